"""Office documents and PDFs through the API (official SDK, SQLite and PostgreSQL): real DOCX,
PPTX and PDF files are ingested and found by search; broken, encrypted, zip-bomb and
unsupported files end `failed` with OpenAI's `last_error` codes and a message naming why."""

from __future__ import annotations

import io
import zipfile

import docx
import openai
import pptx
from pypdf import PdfReader, PdfWriter

from tests.support.hostile_files import pdf_from_objects
from tests.vectors.test_vector_stores_api import create_and_poll, upload

DOCX_TEXT = "The lighthouse keeper polishes the great brass lens every dawn."
DOCX_CELL = "Tide tables are pinned beside the barometer."
PPTX_TEXT = "Quarterly roadmap: migrate the observatory telescope to solar power."
PDF_TEXT = "Volcanic soil makes the vineyard grapes unusually sweet."


def docx_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Note"
    table.rows[0].cells[1].text = DOCX_CELL
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(text: str) -> bytes:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Roadmap"
    slide.placeholders[1].text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF showing `text`, written by hand: pypdf cannot lay out text and the PDF
    writers that can are either copyleft or a heavy dependency for a 5-object file."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return pdf_from_objects(objects)


def encrypted_pdf(text: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bomb() -> bytes:
    """A valid DOCX plus one part of 300 MiB of zeros: ~300 KiB on disk."""
    out = io.BytesIO(docx_bytes("harmless"))
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/media/padding.bin", "w") as part:
            block = bytes(1024 * 1024)
            for _ in range(300):
                part.write(block)
    return out.getvalue()


def pptx_with_many_parts() -> bytes:
    out = io.BytesIO(pptx_bytes("harmless"))
    with zipfile.ZipFile(out, "a") as archive:
        for index in range(10_001):
            archive.writestr(f"ppt/extra/{index}.xml", b"")
    return out.getvalue()


async def test_documents_are_ingested_and_searchable(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    ids = {
        "keeper.docx": await upload(client, "keeper.docx", docx_bytes("Log book", DOCX_TEXT)),
        "roadmap.pptx": await upload(client, "roadmap.pptx", pptx_bytes(PPTX_TEXT)),
        "vineyard.pdf": await upload(client, "vineyard.pdf", pdf_bytes(PDF_TEXT)),
    }
    store = await create_and_poll(client, name="docs", file_ids=list(ids.values()))
    assert store.file_counts.completed == 3, store.file_counts

    for query, name, phrase in [
        ("lighthouse brass lens", "keeper.docx", DOCX_TEXT),
        ("barometer tide tables", "keeper.docx", DOCX_CELL),  # table cells are text too
        ("observatory telescope solar", "roadmap.pptx", PPTX_TEXT),
        ("vineyard grapes volcanic soil", "vineyard.pdf", PDF_TEXT),
    ]:
        found = await client.vector_stores.search(store.id, query=query, max_num_results=1)
        (best,) = found.data
        assert best.filename == name and best.file_id == ids[name]
        assert phrase in best.content[0].text

    content = await client.vector_stores.files.content(
        file_id=ids["roadmap.pptx"], vector_store_id=store.id
    )
    assert "Roadmap" in content.data[0].text and PPTX_TEXT in content.data[0].text


async def test_broken_documents_fail_with_a_reason(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    good_docx = docx_bytes(DOCX_TEXT)
    files = {
        "locked.pdf": encrypted_pdf(PDF_TEXT),
        "cut.pdf": pdf_bytes(PDF_TEXT)[:150],
        "corrupt.docx": good_docx[: len(good_docx) // 2],  # the zip's directory is gone
        "not-really.pptx": b"plain text pretending to be a deck",
        "bomb.docx": docx_bomb(),
        "parts.pptx": pptx_with_many_parts(),
        "sheet.xlsx": b"PK\x03\x04 a spreadsheet",
    }
    ids = {name: await upload(client, name, data) for name, data in files.items()}
    store = await create_and_poll(client, file_ids=list(ids.values()))
    assert store.file_counts.failed == len(files) and store.file_counts.completed == 0

    errors = {}
    for name, file_id in ids.items():
        vs_file = await client.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
        assert vs_file.status == "failed" and vs_file.last_error is not None
        errors[name] = (vs_file.last_error.code, vs_file.last_error.message)
    assert errors["locked.pdf"] == ("invalid_file", "The PDF is encrypted with a password.")
    assert errors["cut.pdf"][0] == "invalid_file"
    assert errors["cut.pdf"][1].startswith("The PDF could not be read")
    assert errors["corrupt.docx"][0] == "invalid_file"
    assert errors["corrupt.docx"][1].startswith("The DOCX could not be read")
    assert errors["not-really.pptx"][0] == "invalid_file"
    assert errors["bomb.docx"][0] == "invalid_file"
    assert "would expand to" in errors["bomb.docx"][1] and "at most" in errors["bomb.docx"][1]
    assert errors["parts.pptx"][0] == "invalid_file"
    assert errors["parts.pptx"][1].endswith("parts; at most 10000 are read.")
    assert errors["sheet.xlsx"] == ("unsupported_file", "File type .xlsx is not supported.")

    # Nothing of the failed files was indexed.
    found = await client.vector_stores.search(store.id, query="vineyard lighthouse harmless")
    assert found.data == []
