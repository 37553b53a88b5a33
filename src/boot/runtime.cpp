// src/boot/runtime.cpp: the whole C and C++ runtime of a uni Xen image.
//
// No libc and no libstdc++ library code are linked: the compiler still emits
// calls to the memory functions, operator new/delete (coroutine frames), the
// static-destructor registration, the stack-protector hooks, and the libstdc++
// headers reach a few out-of-line "throw" helpers that -fno-exceptions turns
// into calls. Each is defined here; the error paths panic. Beside them, what an
// application commonly takes from the C library: the string functions, the
// character classes of the "C" locale (<cctype>), malloc/calloc/free over the
// same heap. Not here: stdio (printf and friends: uni/core/format.hpp's
// text_writer formats), strtol and the like (std::from_chars), locales, time.
#include <cstddef>
#include <cstdint>
#include <new>

#include <uni/boot/heap.hpp>
#include <uni/core/panic.hpp>

// ---- memory functions (the compiler's builtins lower to these) ----
// This file is compiled with -fno-builtin and -fno-tree-loop-distribute-patterns
// so that these loops are not turned back into calls to themselves.
extern "C" {

void* memcpy(void* __restrict dst, const void* __restrict src, std::size_t n) {
  void* d = dst;
  asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n - 1;
  s += n - 1;
  asm volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void* memset(void* dst, int c, std::size_t n) {
  void* d = dst;
  asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, std::size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (std::size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

void* memchr(const void* p, int c, std::size_t n) {
  auto* s = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (s[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(s + i);
  return nullptr;
}

std::size_t strlen(const char* s) {
  std::size_t n = 0;
  while (s[n]) ++n;
  return n;
}

int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

int strncmp(const char* a, const char* b, std::size_t n) {
  for (; n > 0; --n, ++a, ++b)
    if (*a != *b || !*a) return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
  return 0;
}

std::size_t strnlen(const char* s, std::size_t max) {
  std::size_t n = 0;
  while (n < max && s[n]) ++n;
  return n;
}

char* strchr(const char* s, int c) {
  for (;; ++s) {
    if (*s == static_cast<char>(c)) return const_cast<char*>(s);
    if (!*s) return nullptr;
  }
}

char* strrchr(const char* s, int c) {
  const char* last = nullptr;
  for (;; ++s) {
    if (*s == static_cast<char>(c)) last = s;
    if (!*s) return const_cast<char*>(last);
  }
}

char* strstr(const char* hay, const char* needle) {
  const std::size_t n = strlen(needle);
  for (; *hay; ++hay)
    if (strncmp(hay, needle, n) == 0) return const_cast<char*>(hay);
  return n == 0 ? const_cast<char*>(hay) : nullptr;
}

// ---- character classes (<cctype>), the "C" locale: ASCII ----
int isdigit(int c) { return c >= '0' && c <= '9'; }
int islower(int c) { return c >= 'a' && c <= 'z'; }
int isupper(int c) { return c >= 'A' && c <= 'Z'; }
int isalpha(int c) { return islower(c) || isupper(c); }
int isalnum(int c) { return isalpha(c) || isdigit(c); }
int isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int isblank(int c) { return c == ' ' || c == '\t'; }
int isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
int iscntrl(int c) { return (c >= 0 && c < 0x20) || c == 0x7f; }
int isprint(int c) { return c >= 0x20 && c < 0x7f; }
int isgraph(int c) { return c > 0x20 && c < 0x7f; }
int ispunct(int c) { return isgraph(c) && !isalnum(c); }
int tolower(int c) { return isupper(c) ? c - 'A' + 'a' : c; }
int toupper(int c) { return islower(c) ? c - 'a' + 'A' : c; }

// ---- stack protector (-fstack-protector -mstack-protector-guard=global) ----
// entry.S seeds the canary from RDRAND/the TSC before the first protected call.
[[gnu::used]] std::uintptr_t __stack_chk_guard = 0x595e9fbd94fda766;

[[noreturn]] void __stack_chk_fail() { uni::panic("stack protector: a stack frame was overwritten"); }

[[noreturn]] void abort() { uni::panic("abort"); }

// ---- C++ ABI: static destructors, pure virtuals ----
// Static destructors run when the appliance exits (uni::boot::run_exit_handlers);
// the table is bounded, which a unikernel with a handful of statics never fills.
void* __dso_handle = &__dso_handle;

namespace {
struct exit_handler {
  void (*fn)(void*);
  void* arg;
};
constexpr std::size_t max_exit_handlers = 64;
exit_handler exit_handlers[max_exit_handlers];
std::size_t exit_handler_count = 0;
}  // namespace

int __cxa_atexit(void (*fn)(void*), void* arg, void*) {
  if (exit_handler_count == max_exit_handlers) uni::panic("__cxa_atexit: more than ", max_exit_handlers, " static objects with destructors");
  exit_handlers[exit_handler_count++] = {fn, arg};
  return 0;
}

[[noreturn]] void __cxa_pure_virtual() { uni::panic("pure virtual function called"); }

}  // extern "C"

namespace uni::boot {
void run_exit_handlers() noexcept {
  while (exit_handler_count > 0) {
    auto h = exit_handlers[--exit_handler_count];
    h.fn(h.arg);
  }
}
}  // namespace uni::boot

// ---- libstdc++'s out-of-line error helpers (bits/functexcept.h) ----
namespace std {
__attribute__((noreturn)) void __throw_bad_alloc() { uni::panic("out of memory (std::bad_alloc)"); }
__attribute__((noreturn)) void __throw_bad_array_new_length() { uni::panic("bad array new length"); }
__attribute__((noreturn)) void __throw_length_error(const char* what) { uni::panic("length error: ", what); }
__attribute__((noreturn)) void __throw_out_of_range(const char* what) { uni::panic("out of range: ", what); }
__attribute__((noreturn)) void __throw_out_of_range_fmt(const char* what, ...) { uni::panic("out of range: ", what); }
__attribute__((noreturn)) void __throw_logic_error(const char* what) { uni::panic("logic error: ", what); }
__attribute__((noreturn)) void __throw_invalid_argument(const char* what) { uni::panic("invalid argument: ", what); }
__attribute__((noreturn)) void __throw_bad_function_call() { uni::panic("bad function call"); }
__attribute__((noreturn)) void __throw_bad_optional_access() { uni::panic("bad optional access"); }
}  // namespace std

// ---- operator new and delete over the bounded heap ----
namespace uni::boot {
namespace {
heap the_heap;
}
heap& kernel_heap() noexcept { return the_heap; }
}  // namespace uni::boot

namespace {
void* checked_allocate(std::size_t n, std::size_t align) {
  if (void* p = uni::boot::kernel_heap().allocate(n, align)) return p;
  uni::panic(uni::fmt<"out of memory: {} bytes (heap {} bytes)">, n, uni::boot::kernel_heap().statistics().capacity);
}
void checked_free(void* p) noexcept {
  if (!uni::boot::kernel_heap().deallocate(p)) uni::panic("operator delete: ", p, " is not a heap block");
}
}  // namespace

// malloc and free for C-style code: the same bounded heap; malloc says no with nullptr.
extern "C" {
void* malloc(std::size_t n) { return uni::boot::kernel_heap().allocate(n, 16); }
void* calloc(std::size_t count, std::size_t size) {
  if (size != 0 && count > static_cast<std::size_t>(-1) / size) return nullptr;
  void* p = malloc(count * size);
  if (p) memset(p, 0, count * size);
  return p;
}
void free(void* p) {
  if (p) checked_free(p);
}
}  // extern "C"

void* operator new(std::size_t n) { return checked_allocate(n, 16); }
void* operator new[](std::size_t n) { return checked_allocate(n, 16); }
void* operator new(std::size_t n, std::align_val_t a) { return checked_allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return checked_allocate(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return uni::boot::kernel_heap().allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return uni::boot::kernel_heap().allocate(n); }
void operator delete(void* p) noexcept { checked_free(p); }
void operator delete[](void* p) noexcept { checked_free(p); }
void operator delete(void* p, std::size_t) noexcept { checked_free(p); }
void operator delete[](void* p, std::size_t) noexcept { checked_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { checked_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { checked_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { checked_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { checked_free(p); }
