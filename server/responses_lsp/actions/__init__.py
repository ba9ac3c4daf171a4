"""What the server can do to code (the actions catalog), where, and how it asks the model."""
