"""The engine behind the service: cut, reprompt, correct and re-theme one item from its stored artifacts.

`Engine` (engine.py) runs the fusion pipeline and keeps what each stage produced in a content-addressed
`ArtifactStore` (blobstore.py), encoded by codecs.py; `RenderRequest` (render_request.py) is every output option,
validated once; backgrounds.py renders and caches them; options.py parses the option strings the CLI and the API
share; result_meta.py reads a result's metadata back; correction_history.py keeps a seller's correction steps
(undo, back to a version). No HTTP and no SQL here.
"""
