"""Video on the edge: picture diagnostics (pure) and the stream reader behind the camera
driver (edge/drivers/camera.py).  docs/video.md describes both."""
