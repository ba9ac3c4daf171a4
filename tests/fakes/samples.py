"""The sample every end-to-end suite rewrites: a small module with a blocking `fetch`.

One definition shared by the e2e, CLI and real-editor tests, so a scenario reads the same
everywhere: SOURCE has `fetch` (lines 4-7) and `main`; ASYNC_FETCH is the scripted rewrite.
"""

from __future__ import annotations

SOURCE = '''import requests


def fetch(url):
    """Fetch a URL."""
    response = requests.get(url)
    return response.text


def main():
    print(fetch("https://example.com/ü"))
'''
FETCH = SOURCE[SOURCE.index("def fetch") : SOURCE.index("\n\n\ndef main") + 1]
ASYNC_FETCH = '''async def fetch(url):
    """Fetch a URL."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    return response.text
'''
REFACTORED = SOURCE.replace(FETCH, ASYNC_FETCH)
CURSOR = SOURCE.index("response = requests")
