"""The Responses API: request and event models, the retry policy and the streaming client."""
