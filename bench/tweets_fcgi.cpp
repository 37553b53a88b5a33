// bench/tweets_fcgi.cpp: the Linux baseline of the tweets appliance (the Mirage
// paper's Figure 12): the same HTTP API as examples/tweets, as a FastCGI
// application behind nginx, keeping its tweets in SQLite on the same terms:
//
//   POST /users/:user/tweets   201 {"id":N}, once the tweet is committed (WAL,
//                              synchronous=FULL: one fsync per POST, as uni's
//                              B-tree flushes once per POST)
//   GET  /users/:user/tweets   the user's last 100 tweets, newest first, as JSON
//
// Bad names and empty tweets are 400, more than 280 bytes 413, a 129th user 503;
// each user keeps the last 100 tweets (older ones are deleted in the POST's
// transaction). One process, one request at a time (libfcgi's accept loop), as
// uni serves from one thread.
// Usage: bench_tweets_fcgi SOCKET DATABASE   (SOCKET: a Unix socket path to listen on)
#include <fcgiapp.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t max_users = 128;
constexpr long tweets_kept = 100;
constexpr std::size_t max_tweet = 280;
constexpr std::size_t max_name = 32;

void die(sqlite3* db, const char* what) {
  std::fprintf(stderr, "bench_tweets_fcgi: %s: %s\n", what, sqlite3_errmsg(db));
  std::exit(1);
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > max_name) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

// RFC 8259 section 7: quote, backslash and controls escaped.
void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20) {
      char esc[7];
      std::snprintf(esc, sizeof esc, "\\u%04x", b);
      out += esc;
    } else {
      out += c;
    }
  }
}

void reply(FCGX_Request& r, const char* status, const char* type, std::string_view body) {
  char head[160];  // (libfcgi's own printf knows no %zu)
  const int n = std::snprintf(head, sizeof head, "Status: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                              status, type, body.size());
  FCGX_PutStr(head, n, r.out);
  FCGX_PutStr(body.data(), static_cast<int>(body.size()), r.out);
}

class tweets {
 public:
  explicit tweets(const char* path) {
    if (sqlite3_open(path, &db_) != SQLITE_OK) die(db_, "open");
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
         "CREATE TABLE IF NOT EXISTS tweets (user TEXT, seq INTEGER, id INTEGER, text BLOB, PRIMARY KEY (user, seq))"
         " WITHOUT ROWID;");
    prepare(&last_seq_, "SELECT MAX(seq) FROM tweets WHERE user = ?1");
    prepare(&insert_, "INSERT INTO tweets VALUES (?1, ?2, ?3, ?4)");
    prepare(&trim_, "DELETE FROM tweets WHERE user = ?1 AND seq <= ?2");
    prepare(&recent_, "SELECT id, text FROM tweets WHERE user = ?1 ORDER BY seq DESC LIMIT 100");
    prepare(&begin_, "BEGIN");
    prepare(&commit_, "COMMIT");
    sqlite3_stmt* q;
    prepare(&q, "SELECT COALESCE(MAX(id), 0), COUNT(DISTINCT user) FROM tweets");
    if (sqlite3_step(q) != SQLITE_ROW) die(db_, "scan");
    last_id_ = sqlite3_column_int64(q, 0);
    users_ = static_cast<std::size_t>(sqlite3_column_int64(q, 1));
    sqlite3_finalize(q);
  }

  void post(FCGX_Request& r, std::string_view user) {
    const char* length_text = FCGX_GetParam("CONTENT_LENGTH", r.envp);
    const long length = length_text ? std::atol(length_text) : 0;
    if (length > static_cast<long>(max_tweet)) return reply(r, "413 Content Too Large", "text/plain", "a tweet is at most 280 bytes\n");
    char text[max_tweet];
    const int got = length > 0 ? FCGX_GetStr(text, static_cast<int>(length), r.in) : 0;
    if (got <= 0) return reply(r, "400 Bad Request", "text/plain", "empty tweet\n");
    bind_user(last_seq_, user);
    if (sqlite3_step(last_seq_) != SQLITE_ROW) die(db_, "last seq");
    const bool known = sqlite3_column_type(last_seq_, 0) != SQLITE_NULL;
    const sqlite3_int64 seq = known ? sqlite3_column_int64(last_seq_, 0) + 1 : 0;
    sqlite3_reset(last_seq_);
    if (!known && users_ == max_users) return reply(r, "503 Service Unavailable", "text/plain", "no room for another user\n");
    const sqlite3_int64 id = last_id_ + 1;
    step(begin_, "begin");
    bind_user(insert_, user);
    sqlite3_bind_int64(insert_, 2, seq);
    sqlite3_bind_int64(insert_, 3, id);
    sqlite3_bind_blob(insert_, 4, text, got, SQLITE_STATIC);
    step(insert_, "insert");
    bind_user(trim_, user);
    sqlite3_bind_int64(trim_, 2, seq - tweets_kept);
    step(trim_, "trim");
    step(commit_, "commit");
    last_id_ = id;
    if (!known) ++users_;
    char body[40];
    const int n = std::snprintf(body, sizeof body, "{\"id\":%lld}\n", static_cast<long long>(id));
    reply(r, "201 Created", "application/json", {body, static_cast<std::size_t>(n)});
  }

  void get(FCGX_Request& r, std::string_view user) {
    out_.assign("{\"user\":\"");
    out_ += user;
    out_ += "\",\"tweets\":[";
    bind_user(recent_, user);
    for (bool first = true; sqlite3_step(recent_) == SQLITE_ROW; first = false) {
      if (!first) out_ += ',';
      out_ += "{\"id\":";
      out_ += std::to_string(sqlite3_column_int64(recent_, 0));
      out_ += ",\"text\":\"";
      append_escaped(out_, {static_cast<const char*>(sqlite3_column_blob(recent_, 1)),
                            static_cast<std::size_t>(sqlite3_column_bytes(recent_, 1))});
      out_ += "\"}";
    }
    sqlite3_reset(recent_);
    out_ += "]}\n";
    reply(r, "200 OK", "application/json", out_);
  }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(db_, sql);
  }
  void prepare(sqlite3_stmt** s, const char* sql) {
    if (sqlite3_prepare_v2(db_, sql, -1, s, nullptr) != SQLITE_OK) die(db_, sql);
  }
  void step(sqlite3_stmt* s, const char* what) {
    if (sqlite3_step(s) != SQLITE_DONE) die(db_, what);
    sqlite3_reset(s);
  }
  static void bind_user(sqlite3_stmt* s, std::string_view user) {
    sqlite3_bind_text(s, 1, user.data(), static_cast<int>(user.size()), SQLITE_TRANSIENT);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt *last_seq_, *insert_, *trim_, *recent_, *begin_, *commit_;
  sqlite3_int64 last_id_ = 0;
  std::size_t users_ = 0;
  std::string out_;  // a GET's reply, reused
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: %s SOCKET DATABASE\n", argv[0]), 2;
  tweets store(argv[2]);
  if (FCGX_Init() != 0) return std::fprintf(stderr, "bench_tweets_fcgi: FCGX_Init failed\n"), 1;
  const int sock = FCGX_OpenSocket(argv[1], 4096);  // nginx connects once per request
  if (sock < 0) return std::fprintf(stderr, "bench_tweets_fcgi: cannot listen on %s\n", argv[1]), 1;
  FCGX_Request r;
  FCGX_InitRequest(&r, sock, 0);
  while (FCGX_Accept_r(&r) >= 0) {
    const char* method = FCGX_GetParam("REQUEST_METHOD", r.envp);
    const char* uri = FCGX_GetParam("DOCUMENT_URI", r.envp);
    std::string_view path = uri ? uri : "";
    const bool routed = path.starts_with("/users/") && path.ends_with("/tweets") && path.size() > 14;
    const std::string_view user = routed ? path.substr(7, path.size() - 14) : "";
    const std::string_view m = method ? method : "";
    if (!routed || user.find('/') != std::string_view::npos)
      reply(r, "404 Not Found", "text/plain", "not found\n");
    else if (m != "GET" && m != "POST")
      reply(r, "405 Method Not Allowed", "text/plain", "method not allowed\n");
    else if (!valid_name(user))
      reply(r, "400 Bad Request", "text/plain", "bad user name\n");
    else if (m == "POST")
      store.post(r, user);
    else
      store.get(r, user);
    FCGX_Finish_r(&r);
  }
  return 0;
}
