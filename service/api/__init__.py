"""The HTTP API (`promptcut serve`). `create_app` lives in service.api.app; importing this package is cheap."""
