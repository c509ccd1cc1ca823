// Server-sent events of a run stream, read from a fetch() Response.
//
// The REST API streams a run as the answer to a POST (`.../runs`, `.../submit_tool_outputs`
// with `stream: true`), which EventSource cannot send (it only GETs, with no headers for the
// key), so the page POSTs with fetch and reads the body here: `for await (const {event, data}
// of runEvents(response))`. `data` is the parsed JSON of each event; the stream ends at the
// API's `done` event (`data: [DONE]`), which is not yielded, or when the body ends.
//
// The parser follows the HTML standard's event-stream rules: lines end in \n, \r\n or \r
// (also split across chunks), `data:` lines of one event are joined with \n, one space after
// the colon is dropped, lines starting with ':' are comments, an event ends at a blank line.

export const DONE = '[DONE]';

export class EventStreamParser {
  constructor() {
    this.buffer = '';
    this.event = '';
    this.data = [];
    this.pendingCR = false; // a chunk ended in \r: a \n opening the next one belongs to it
  }

  // Feeds decoded text; returns the events it completed, as {event, data: string}.
  push(text) {
    const events = [];
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop();
    if (this.buffer === '' && text.endsWith('\r')) this.pendingCR = true;
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  // The end of the body: an event not closed by a blank line is dropped, as the standard says.
  end() {
    this.buffer = '';
    this.event = '';
    this.data = [];
    return [];
  }

  line(line) {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const event = { event: this.event || 'message', data: this.data.join('\n') };
      this.event = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return null;
  }
}

// The events of a streamed response, `data` parsed as JSON; stops at `[DONE]`. A `data`
// that is not JSON is yielded as its text (the API sends none, but a proxy might).
export async function* runEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder('utf-8');
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const { event, data } of parser.push(text)) {
        if (data === DONE) return;
        yield { event, data: parseData(data) };
      }
      if (done) return;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseData(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
