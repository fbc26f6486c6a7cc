"""gunicorn's settings for Gatehouse: JSON logs of the same shape as the application's.

gunicorn reads this file from the working directory by itself; the command line (Dockerfile,
docker-compose.yml) keeps only what differs between deployments: bind address and workers.
"""

import os

from index_site.log_format import logging_config

accesslog = "-"
logger_class = "index_site.log_format.GunicornLogger"
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper())
