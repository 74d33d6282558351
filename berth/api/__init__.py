"""HTTP adapters: parse a request, call a service, render the answer."""
