"""image_file parts reach the provider as image parts with a data URL of the file's bytes."""

from __future__ import annotations

import base64

import openai

from tests.support.scripted_provider import ScriptedProvider

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))


async def test_image_files_reach_the_provider_as_data_urls(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    image = await oai.files.create(file=("cat.bin", PNG), purpose="vision")
    gone = await oai.files.create(file=("gone.png", PNG), purpose="vision")
    text = await oai.files.create(file=("notes.txt", b"not an image"), purpose="vision")
    assistant = await oai.beta.assistants.create(model="vision-model")
    thread = await oai.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_file", "image_file": {"file_id": image.id, "detail": "low"}},
                    {"type": "image_file", "image_file": {"file_id": gone.id}},
                    {"type": "image_file", "image_file": {"file_id": text.id}},
                ],
            }
        ]
    )
    await oai.files.delete(gone.id)  # a file deleted since is left out, the rest goes on
    # (and so is a file that is not an image: no provider could read it as one)

    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "completed"

    (sent,) = provider.requests
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert sent.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
            ],
        }
    ]
