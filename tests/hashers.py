"""Argon2id at its smallest cost, for the tests.

The algorithm, the library and the encoded format (`argon2$argon2id$v=19$m=...`) are the
production hasher's, so "real hashers" still holds; only the work factor differs. At the
production cost every user a factory makes and every login costs about 0.2 s of CPU here.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class MinimalArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8
    parallelism = 1
