// uni/options.hpp: an appliance's command line, one parser for every target
// (POSIX argv, the Xen kernel command line). The platform and the appliance each
// declare their flags in a table of option_spec (name, kind of value, default,
// one line of help); parse_options checks every word against both:
//
//   constexpr uni::option_spec echo_options[] = {
//       uni::number_option("port", 7, 1, 65535, "TCP port to listen on"),
//   };
//   ... o.number("port") ...   // checked at start: 1..65535, 7 if not given
//
// One policy everywhere: an unknown flag, a flag of another target, a malformed
// or out-of-range value, a flag given twice is an error with one line saying
// why; `--help` asks for the list. Freestanding (Xen compiles it): the values
// are views of the words, in a bounded table; nothing is allocated.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/panic.hpp>
#include <uni/core/result.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

enum class option_kind : std::uint8_t {
  flag,          // no value: given or not
  number,        // a decimal integer in [min, max]
  text,          // any word
  choice,        // one of the words its value_name lists, "a|b|c"
  ipv4_address,  // 192.0.2.1
  ipv4_prefix,   // 192.0.2.1/24 (the prefix is required)
  mac_address,   // 02:00:00:00:00:01
  input_file,    // a regular file that can be read (checked where there are files)
  directory,     // a directory that can be read
  output_file,   // a file that can be created or overwritten
};

constexpr bool is_path(option_kind k) noexcept {
  return k == option_kind::input_file || k == option_kind::directory || k == option_kind::output_file;
}

// Platform flags that describe one network interface: `interface_start` begins
// the next interface (--tap IFNAME), `interface` flags set the current one. A
// `repeated` flag may be given several times, each a value of its own, in order
// (--disk PATH, one per block device): count(name) says how many, text(name, i)
// the i-th.
enum class option_scope : std::uint8_t { appliance, interface, interface_start, repeated };

// The texts are C strings (the factories take literals): a pointer each, not a
// pointer and a length, in every table of every image; they are read only by
// --help, a refusal's message and text()'s default. A number's range and default
// share their words with what only the other kinds have (the value's name and
// default text): 48 bytes a flag.
struct option_spec {
  const char* name_chars = "";  // name(): a pointer and a byte, not a view's 16 bytes
  std::uint8_t name_size = 0;
  option_kind kind = option_kind::text;
  option_scope scope = option_scope::appliance;
  const char* help = "";  // one line
  union {
    // How --help writes the value: FILE, ADDR/PREFIX; a choice's choices,
    // "debug|info|warn" (a number's is N: value_name()).
    const char* value_word = "";
    std::int64_t min;  // numbers
  };
  union {
    const char* text_default = "";  // default of a non-number ("": none)
    std::int64_t number_default;
  };
  std::int64_t max = 0;  // numbers

  // Without the leading "--".
  constexpr std::string_view name() const noexcept { return {name_chars, name_size}; }
  constexpr const char* value_name() const noexcept { return kind == option_kind::number ? "N" : value_word; }
};

namespace detail {
void option_name_longer_than_255_bytes();  // (not constexpr: a table naming one is no constant)

constexpr option_spec spec(std::string_view name, option_kind kind, const char* value_name,
                           const char* fallback, const char* help) noexcept {
  if (name.size() > 255) option_name_longer_than_255_bytes();
  option_spec s;
  s.name_chars = name.data();
  s.name_size = static_cast<std::uint8_t>(name.size());
  s.kind = kind;
  s.value_word = value_name;
  s.text_default = fallback;
  s.help = help;
  return s;
}
}  // namespace detail

constexpr option_spec number_option(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max,
                                    const char* help) noexcept {
  option_spec s = detail::spec(name, option_kind::number, "", "", help);
  s.number_default = fallback;
  s.min = min;
  s.max = max;
  return s;
}
constexpr option_spec text_option(std::string_view name, const char* value_name, const char* fallback,
                                  const char* help) noexcept {
  return detail::spec(name, option_kind::text, value_name, fallback, help);
}
constexpr option_spec flag_option(std::string_view name, const char* help) noexcept {
  return detail::spec(name, option_kind::flag, "", "", help);
}
constexpr option_spec choice_option(std::string_view name, const char* choices, const char* fallback,
                                    const char* help) noexcept {
  return detail::spec(name, option_kind::choice, choices, fallback, help);
}
// input_file, directory or output_file; no default (not given: the option is off).
constexpr option_spec path_option(std::string_view name, option_kind kind, const char* value_name,
                                  const char* help) noexcept {
  return detail::spec(name, kind, value_name, "", help);
}
// A value of another kind with a fixed default (ipv4_address, mac_address, ...).
constexpr option_spec typed_option(std::string_view name, option_kind kind, const char* value_name,
                                   const char* fallback, const char* help) noexcept {
  return detail::spec(name, kind, value_name, fallback, help);
}
constexpr option_spec for_each_interface(option_spec s, option_scope scope = option_scope::interface) noexcept {
  s.scope = scope;
  return s;
}
constexpr option_spec repeatable(option_spec s) noexcept {
  s.scope = option_scope::repeated;
  return s;
}

// A table an appliance can declare: unique names, defaults inside their ranges
// (UNI_APPLIANCE checks it at compile time).
constexpr bool options_well_formed(std::span<const option_spec> t) noexcept {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].name().empty() || t[i].name().starts_with('-') || t[i].name() == "help") return false;
    if (t[i].kind == option_kind::number &&
        (t[i].min > t[i].max || t[i].number_default < t[i].min || t[i].number_default > t[i].max))
      return false;
    for (std::size_t j = 0; j < i; ++j)
      if (t[i].name() == t[j].name()) return false;
  }
  return true;
}

// The words of a command line: argv, or a kernel command line split at spaces.
class command_words {
 public:
  static constexpr std::size_t capacity = 128;

  static command_words from_argv(int argc, char** argv) noexcept {
    command_words w;
    for (int i = 1; i < argc; ++i) w.add(argv[i]);
    return w;
  }
  static command_words from_text(std::string_view line) noexcept {
    command_words w;
    for (std::size_t i = 0, end; i < line.size(); i = end) {
      if (line[i] == ' ') {
        end = i + 1;
        continue;
      }
      for (end = i; end < line.size() && line[end] != ' ';) ++end;
      w.add({line.data() + i, end - i});
    }
    return w;
  }
  std::span<const std::string_view> words() const noexcept { return {words_, count_}; }
  bool overflowed() const noexcept { return overflowed_; }

 private:
  void add(std::string_view w) noexcept {
    if (count_ < capacity) words_[count_++] = w;
    else overflowed_ = true;
  }
  std::string_view words_[capacity];
  std::size_t count_ = 0;
  bool overflowed_ = false;
};

// Checks a path option where the target has files; false with the reason in `why`.
using path_checker = bool (*)(option_kind, std::string_view path, text_writer& why);

// What parse_options checks the words against.
struct option_tables {
  std::string_view target;                 // "posix-tap": named in errors
  std::span<const option_spec> platform;   // this target's flags
  std::span<const option_spec> appliance;  // the appliance's
  std::string_view elsewhere;              // other targets' flag names, "a|b|c": "does not apply here"
  std::size_t max_interfaces = 1;          // how many interface groups may be started
  path_checker check_path = nullptr;       // nullptr: the target has no files
  bool skip_stray_words = false;           // Xen: the loader's own words are not ours
};

class appliance_options;
result<appliance_options> parse_options(std::span<const std::string_view> words, const option_tables& tables,
                                        text_writer& problem) noexcept;

// The parsed command line: typed lookups by declared name; a value not given is
// the declared default. Looking up a name nobody declared is a programming error.
class appliance_options {
 public:
  static constexpr std::size_t max_values = 48;

  bool help_asked() const noexcept { return help_; }
  std::size_t interfaces() const noexcept { return interfaces_; }

  bool declared(std::string_view name) const noexcept { return lookup(name) != nullptr; }
  bool given(std::string_view name, std::size_t interface = 0) const noexcept {
    const option_spec* s = lookup(name);
    return s && find(*s, interface);
  }
  // How many times a flag was given (a repeated flag's values are 0..count-1).
  std::size_t count(std::string_view name) const noexcept {
    const option_spec* s = lookup(name);
    return s ? count(*s) : 0;
  }
  bool flag(std::string_view name, std::size_t interface = 0) const noexcept {
    return find(expect(name, option_kind::flag), interface) != nullptr;
  }
  std::int64_t number(std::string_view name, std::size_t interface = 0) const noexcept {
    const option_spec& s = expect(name, option_kind::number);
    const value* v = find(s, interface);
    return v ? v->number : s.number_default;
  }
  // Every kind but flag and number: the word as given, or the default.
  std::string_view text(std::string_view name, std::size_t interface = 0) const noexcept {
    const option_spec& s = expect(name, option_kind::text);
    const value* v = find(s, interface);
    return v ? v->text : std::string_view{s.text_default};
  }
  const option_spec& spec(std::string_view name) const noexcept {
    if (const option_spec* s = lookup(name)) return *s;
    panic("options: --", name, " is not declared by the appliance or the platform");
  }
  std::span<const option_spec> platform_options() const noexcept { return tables_.platform; }
  std::span<const option_spec> appliance_flags() const noexcept { return tables_.appliance; }

 private:
  friend result<appliance_options> parse_options(std::span<const std::string_view>, const option_tables&,
                                                 text_writer&) noexcept;
  struct value {
    const option_spec* spec = nullptr;
    std::string_view text;
    std::int64_t number = 0;
    std::size_t interface = 0;
  };
  // The declaration of `name`: the platform's, or the appliance's.
  const option_spec* lookup(std::string_view name) const noexcept {
    for (const std::span<const option_spec> table : {tables_.platform, tables_.appliance})
      for (const option_spec& s : table)
        if (s.name() == name) return &s;
    return nullptr;
  }
  // The declaration of `name`, of kind `k`; option_kind::text stands for every
  // kind text() reads (all but flag and number).
  const option_spec& expect(std::string_view name, option_kind k) const noexcept {
    const option_spec& s = spec(name);
    const bool any_text = k == option_kind::text;
    if (any_text ? s.kind == option_kind::flag || s.kind == option_kind::number : s.kind != k)
      panic("options: --", name, any_text ? " is not a text option" : " is declared as another kind");
    return s;
  }
  // A value of `s` (a declaration of these tables: values are found by it, not by name).
  const value* find(const option_spec& s, std::size_t interface) const noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      const value& v = values_[i];
      if (v.spec == &s && (s.scope == option_scope::appliance || v.interface == interface)) return &v;
    }
    return nullptr;
  }
  std::size_t count(const option_spec& s) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += values_[i].spec == &s;
    return n;
  }

  option_tables tables_;
  value values_[max_values];
  std::size_t count_ = 0;
  std::size_t interfaces_ = 1;
  bool help_ = false;
};

namespace detail {

// A decimal integer, optionally negative, that fits std::int64_t.
constexpr result<std::int64_t> parse_integer(std::string_view s) noexcept {
  const bool negative = !s.empty() && s.front() == '-';
  if (s.size() == std::size_t{negative}) return fail(error::invalid_argument);
  std::uint64_t n = 0;
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = negative; i < s.size(); ++i) {  // (by index: remove_prefix is an out-of-line call)
    const char c = s[i];
    if (c < '0' || c > '9') return fail(error::invalid_argument);
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (n > (limit - digit) / 10) return fail(error::invalid_argument);
    n = n * 10 + digit;
  }
  return negative ? static_cast<std::int64_t>(0 - n) : static_cast<std::int64_t>(n);
}

constexpr bool is_choice(std::string_view choices, std::string_view word) noexcept {
  for (std::size_t start = 0, end = 0; start < choices.size(); ++end)  // (no word after a last '|')
    if (end == choices.size() || choices[end] == '|') {
      if (std::string_view{choices.data() + start, end - start} == word) return true;
      start = end + 1;
    }
  return false;
}

// "--name" or "--name=value" (a word starting "--"; compared in place, not by
// starts_with's substr, which checks its bounds).
constexpr bool is_flag_word(std::string_view w) noexcept { return w.size() >= 2 && w[0] == '-' && w[1] == '-'; }

// Checks one value of `flag` ("--name" as given) against its declaration; false
// with the reason in `why`.
inline bool check_value(const option_spec& s, std::string_view flag, std::string_view v, std::int64_t& number,
                        const option_tables& t, text_writer& why) noexcept {
  const char* want = nullptr;  // what a value refused for its form is not: one message for them all
  switch (s.kind) {
    case option_kind::number: {
      const auto n = parse_integer(v);
      if (!n) {
        want = "a number";
        break;
      }
      number = n.value();
      if (number >= s.min && number <= s.max) return true;
      format_to(why, fmt<"{}: {} is out of range ({}-{})">, flag, v, s.min, s.max);
      return false;
    }
    case option_kind::choice:
      if (is_choice(s.value_word, v)) return true;
      want = "one of ";
      break;
    case option_kind::ipv4_address:
      if (ipv4_address::parse(v)) return true;
      want = "an IPv4 address";
      break;
    case option_kind::ipv4_prefix:
      if (v.find('/') != std::string_view::npos && ipv4_cidr::parse(v)) return true;
      want = "ADDR/PREFIX (e.g. 10.0.0.2/24)";
      break;
    case option_kind::mac_address:
      if (mac_address::parse(v)) return true;
      want = "a MAC address (e.g. 02:00:00:00:00:01)";
      break;
    case option_kind::input_file:
    case option_kind::directory:
    case option_kind::output_file: {
      // The target writes its reason after the flag's name, taken back if there is none.
      const std::size_t start = why.size();
      format_to(why, flag, ": ");
      if (!t.check_path) format_to(why, fmt<"the {} target has no files">, t.target);
      else if (v.empty()) format_to(why, "an empty path");
      else if (t.check_path(s.kind, v, why)) return why.truncate(start), true;
      return false;
    }
    default:  // a flag, a text: any word
      return true;
  }
  format_to(why, fmt<"{}: '{}' is not {}{}">, flag, v, want, s.kind == option_kind::choice ? s.value_word : "");
  return false;
}

}  // namespace detail

// Parses `words` (argv without the program name, or the kernel command line's).
// `--help` anywhere asks for help and nothing else is checked. Values are views
// of the words: they must outlive the result.
inline result<appliance_options> parse_options(std::span<const std::string_view> words, const option_tables& t,
                                               text_writer& problem) noexcept {
  using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
  appliance_options o;
  o.tables_ = t;
  for (std::string_view w : words)
    if (w == "--help"sv || w == "-h"sv) {
      o.help_ = true;
      return o;
    }
  bool interface_named = false;  // the current interface's interface_start flag was given
  std::size_t current = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (!detail::is_flag_word(w)) {
      if (t.skip_stray_words) continue;
      format_to(problem, fmt<"unexpected '{}' (flags are --name [value])">, w);
      return fail(error::invalid_argument);
    }
    // "--name" or "--name=value": `flag` is "--name" as given, as the messages name it.
    // (Cut by index: each substr would check its bounds, which hold, again.)
    const std::size_t eq = std::min(w.find('='), w.size());  // >= 2: w starts with "--"
    const bool inline_value = eq < w.size();
    const std::string_view flag{w.data(), eq};
    const std::string_view name{w.data() + 2, eq - 2};
    std::string_view v = inline_value ? std::string_view{w.data() + eq + 1, w.size() - eq - 1} : ""sv;
    const option_spec* s = o.lookup(name);
    if (!s) {
      if (detail::is_choice(t.elsewhere, name)) format_to(problem, fmt<"{} does not apply to the {} target">, flag, t.target);
      else format_to(problem, "unknown flag ", flag);
      return fail(error::invalid_argument);
    }
    if (s->kind == option_kind::flag) {
      if (inline_value) return format_to(problem, flag, " takes no value"), fail(error::invalid_argument);
    } else if (!inline_value) {
      // A number may be negative ("-1" is a value, refused by its range); any
      // other value starting with "--" is the next flag: this one has none.
      if (i + 1 >= words.size() || (detail::is_flag_word(words[i + 1]) && s->kind != option_kind::number)) {
        format_to(problem, fmt<"{} needs a value ({})">, flag, s->value_name());
        return fail(error::invalid_argument);
      }
      v = words[++i];
    }
    if (s->scope == option_scope::interface_start) {
      if (interface_named) {
        if (current + 1 >= t.max_interfaces) {
          format_to(problem, fmt<"{} given more than once: this appliance has {} network interface{}">, flag,
                    t.max_interfaces, t.max_interfaces == 1 ? "" : "s");
          return fail(error::invalid_argument);
        }
        ++current;
        o.interfaces_ = current + 1;
      }
      interface_named = true;
    }
    std::int64_t number = 0;
    if (!detail::check_value(*s, flag, v, number, t, problem)) return fail(error::invalid_argument);
    const std::size_t where = s->scope == option_scope::appliance ? 0
                              : s->scope == option_scope::repeated ? o.count(*s)
                                                                   : current;
    if (o.find(*s, where)) {
      if (s->scope == option_scope::appliance) format_to(problem, flag, " given twice");
      else format_to(problem, fmt<"{} given twice for network interface {}">, flag, where + 1);
      return fail(error::invalid_argument);
    }
    if (o.count_ == appliance_options::max_values)
      return format_to(problem, "too many flags"), fail(error::invalid_argument);
    o.values_[o.count_++] = {s, v, number, where};
  }
  return o;
}

namespace detail {
// What --help says after a flag of each option_scope, in the enum's order.
alignas(8) inline constexpr const char* scope_notes[] =  // (alignas: not 32, as GCC would)
    {"", " [per interface]", " [repeat for each interface]", " [repeatable]"};
static_assert(std::size(scope_notes) == static_cast<std::size_t>(option_scope::repeated) + 1);
}  // namespace detail

// Writes --help, one line per flag, through `line`.
template <class Line>
void write_help(std::string_view program, const option_tables& t, std::string_view appliance, Line&& line) noexcept {
  char buf[256];
  text_writer w{buf, sizeof buf};
  format_to(w, fmt<"usage: {} [--flag value]... (--help: this list)">, program);
  line(w.view());
  // The target's flags, then the appliance's, each under its title: one loop,
  // not a body per table.
  for (const bool platform : {true, false}) {
    const std::span<const option_spec> specs = platform ? t.platform : t.appliance;
    if (specs.empty()) continue;
    w.truncate(0);
    // "flags of the xen target:", "www's flags:"
    format_to(w, platform ? "flags of the " : "", platform ? t.target : appliance, platform ? " target:" : "'s flags:");
    line(w.view());
    for (const option_spec& s : specs) {
      w.truncate(0);
      const bool valued = s.kind != option_kind::flag;
      format_to(w, "  --", s.name(), valued ? " " : "", valued ? s.value_name() : "");
      while (w.size() < 30) w.put(' ');
      format_to(w, " ", s.help);
      if (s.kind == option_kind::number) format_to(w, fmt<" ({}-{}, default {})">, s.min, s.max, s.number_default);
      else if (*s.text_default) format_to(w, fmt<" (default {})">, s.text_default);
      format_to(w, detail::scope_notes[static_cast<std::size_t>(s.scope)]);
      line(w.view());
    }
  }
}

}  // namespace uni
