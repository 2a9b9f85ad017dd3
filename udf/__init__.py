"""The C source of the local lambda_sync loadable function (not Python)."""
