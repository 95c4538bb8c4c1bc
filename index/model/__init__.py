"""The embedding model: sentence-transformers for builds, its ONNX export for questions, and the export itself.

embedding wraps the model (loaded only when a vector is needed); onnx_model runs the export with onnxruntime;
onnx_export makes and checks it; background holds the off-topic questions that both the export's check and the
searcher's abstention bar are measured on. It may import settings and index.ingest (the export checks itself on
the corpus's passages), nothing above.
"""
