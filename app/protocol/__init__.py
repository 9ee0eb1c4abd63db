"""The wire protocol between the server's hub and its agents: frames and output names.

Both programs import it; it imports neither."""
