"""Vector stores' machinery: text extraction, chunking, embeddings, and the ingestion worker."""
