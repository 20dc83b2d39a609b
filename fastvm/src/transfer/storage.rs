//! Presigned storage PUT/GET with a client that never carries the API key.
