"""Files crafted to cost a parser far more than their size (issue 21's findings), built
programmatically: a small DOCX holding hundreds of MB of XML, a PDF whose pages share one
huge compressed content stream, and big HTML. Shared by tests and bench/."""

from __future__ import annotations

import io
import zipfile
import zlib

import docx

PARAGRAPH = b"<w:p><w:r><w:t>lorem ipsum dolor sit amet</w:t></w:r></w:p>"


def docx_with_xml(xml_bytes: int) -> bytes:
    """A valid DOCX whose document.xml holds ~`xml_bytes` of paragraphs, deflated at level 9:
    200 MB of XML make a ~650 KB file."""
    document = docx.Document()
    document.add_paragraph("start")
    plain = io.BytesIO()
    document.save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, source.read(info.filename))
                continue
            head, tail = source.read(info.filename).split(b"<w:body>")
            block = PARAGRAPH * 10_000
            with archive.open(info.filename, "w", force_zip64=True) as part:
                part.write(head + b"<w:body>")
                for _ in range(max(1, xml_bytes // len(block))):
                    part.write(block)
                part.write(tail)
    return out.getvalue()


def pdf_with_shared_stream(pages: int = 30, operations: int = 150_000) -> bytes:
    """A PDF of `pages` pages that all show one FlateDecode content stream of `operations`
    text operations: ~20 KB on disk, each page's extraction parses the whole stream (seconds
    of CPU per page)."""
    content = b"BT /F1 12 Tf " + b"1 0 0 1 72 720 Tm (lorem ipsum) Tj " * operations + b"ET"
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{5 + index} 0 R" for index in range(pages)).encode()
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ] + [page] * pages
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1; the first is the catalog), with its xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def big_html(size: int) -> bytes:
    """~`size` bytes of ordinary nested markup (~2 s of CPU per MB for BeautifulSoup here)."""
    row = b"<div><p>word <b>bold</b> <a href='x'>link</a></p></div>\n"
    return b"<html><body>" + row * (size // len(row)) + b"</body></html>"
