"""HTTP reason phrases that carry a sentence: twine prints only the status line of an answer."""

REASON_MAX_LENGTH = 1024


def reason_phrase(message: str) -> str:
    """`message` as a reason phrase: one line of Latin-1, what cannot be sent replaced.

    The status line is Latin-1 on the wire and cannot hold line breaks: replace what cannot be
    sent rather than fail to answer at all (warehouse encodes with "replace" too).
    """
    flat = " ".join(message.split())[:REASON_MAX_LENGTH]
    return flat.encode("latin-1", "replace").decode("latin-1")
