# bench/tweets_wsgi.py: the Linux baseline the Mirage paper's Figure 12 names,
# a Python web application behind nginx: the same HTTP API as examples/tweets,
# as a WSGI application run by uWSGI (Debian: uwsgi, uwsgi-plugin-python3),
# keeping its tweets in SQLite (python3's sqlite3) on the same terms:
#
#   POST /users/:user/tweets   201 {"id":N}, once the tweet is committed (WAL,
#                              synchronous=FULL: one fsync per POST, so a 201
#                              survives a restart, as uni's does)
#   GET  /users/:user/tweets   the user's last 100 tweets, newest first, as JSON
#
# Bad names and empty tweets are 400, more than 280 bytes 413, a 129th user 503;
# each user keeps the last 100 tweets (older ones are deleted in the POST's
# transaction). The database is the file named by $TWEETS_DB.
#   uwsgi --plugin python3 --wsgi-file bench/tweets_wsgi.py --env TWEETS_DB=PATH ...
import json
import os
import re
import sqlite3

MAX_USERS = 128
TWEETS_KEPT = 100
MAX_TWEET = 280
VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
PATH = re.compile(r"/users/([^/]+)/tweets\Z")

db = sqlite3.connect(os.environ["TWEETS_DB"], isolation_level=None, check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS tweets (user TEXT, seq INTEGER, id INTEGER, text BLOB,"
           " PRIMARY KEY (user, seq)) WITHOUT ROWID")
last_id, users = db.execute("SELECT COALESCE(MAX(id), 0), COUNT(DISTINCT user) FROM tweets").fetchone()


def reply(start_response, status, content_type, body):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def post(environ, start_response, user):
    global last_id, users
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_TWEET:
        return reply(start_response, "413 Content Too Large", "text/plain", b"a tweet is at most 280 bytes\n")
    text = environ["wsgi.input"].read(length) if length > 0 else b""
    if not text:
        return reply(start_response, "400 Bad Request", "text/plain", b"empty tweet\n")
    (seq,) = db.execute("SELECT MAX(seq) FROM tweets WHERE user = ?", (user,)).fetchone()
    known = seq is not None
    if not known and users == MAX_USERS:
        return reply(start_response, "503 Service Unavailable", "text/plain", b"no room for another user\n")
    seq = seq + 1 if known else 0
    tweet_id = last_id + 1
    db.execute("BEGIN")
    db.execute("INSERT INTO tweets VALUES (?, ?, ?, ?)", (user, seq, tweet_id, text))
    db.execute("DELETE FROM tweets WHERE user = ? AND seq <= ?", (user, seq - TWEETS_KEPT))
    db.execute("COMMIT")
    last_id = tweet_id
    if not known:
        users += 1
    return reply(start_response, "201 Created", "application/json", b'{"id":%d}\n' % tweet_id)


def get(start_response, user):
    rows = db.execute("SELECT id, text FROM tweets WHERE user = ? ORDER BY seq DESC LIMIT 100", (user,))
    # Tweets are bytes: surrogateescape carries any that are not UTF-8 through unchanged.
    tweets = [{"id": i, "text": t.decode("utf-8", "surrogateescape")} for i, t in rows]
    body = json.dumps({"user": user, "tweets": tweets}, ensure_ascii=False, separators=(",", ":")) + "\n"
    return reply(start_response, "200 OK", "application/json", body.encode("utf-8", "surrogateescape"))


def application(environ, start_response):
    route = PATH.match(environ.get("PATH_INFO", ""))
    if not route:
        return reply(start_response, "404 Not Found", "text/plain", b"not found\n")
    method = environ["REQUEST_METHOD"]
    if method not in ("GET", "POST"):
        return reply(start_response, "405 Method Not Allowed", "text/plain", b"method not allowed\n")
    user = route.group(1)
    if not VALID_NAME.match(user):
        return reply(start_response, "400 Bad Request", "text/plain", b"bad user name\n")
    return post(environ, start_response, user) if method == "POST" else get(start_response, user)
