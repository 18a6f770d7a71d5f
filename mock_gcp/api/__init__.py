"""The HTTP layer of Google's side: one blueprint per service, and the app that serves them."""
