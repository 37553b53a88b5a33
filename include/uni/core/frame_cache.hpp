// uni/core/frame_cache.hpp: coroutine frames are recycled, not given back to the heap.
//
// A server makes a few tasks for every datagram (receive, send, resolve the next
// hop), each a coroutine frame of the same size as the last. Freed frames are
// kept on a free list per 64-byte size class (up to 1 KiB, at most 64 per class)
// and handed out again, so once warm the packet path does not call the heap.
// Bigger frames go to the heap as before. Sanitizer builds keep the heap for
// every frame, so that a use after free of a frame is still caught. The lists
// are per thread on POSIX (a thread's scheduler and its tasks stay on it); the
// Xen guest has one thread and no thread-local storage.
#pragma once

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define UNI_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNI_FRAME_CACHE 0
#endif
#endif
#ifndef UNI_FRAME_CACHE
#define UNI_FRAME_CACHE 1
#endif

namespace uni::detail {

class frame_cache {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t classes = 16;   // frames up to 1 KiB
  static constexpr std::size_t max_kept = 64;  // per class: at most 64 KiB held in all

  static void* take(std::size_t n) {
    if (free_list* l = list_for(n)) {
      if (node* f = l->head) {
        l->head = f->next;
        --l->count;
        return f;
      }
      return ::operator new(class_size(n));  // any frame of the class may reuse it
    }
    return ::operator new(n);
  }

  static void give(void* p, std::size_t n) noexcept {
    free_list* l = list_for(n);
    if (l && l->count < max_kept) {
      node* f = static_cast<node*>(p);
      f->next = l->head;
      l->head = f;
      ++l->count;
      return;
    }
    ::operator delete(p);
  }

 private:
  struct node {
    node* next;
  };
  struct free_list {
    node* head = nullptr;
    std::size_t count = 0;
  };
  struct lists {
    free_list by_class[classes];
    ~lists() {
      for (free_list& l : by_class) {
        while (node* f = l.head) {
          l.head = f->next;
          ::operator delete(f);
        }
      }
    }
  };

  static constexpr std::size_t class_size(std::size_t n) noexcept { return (n + granule - 1) / granule * granule; }

  static free_list* list_for(std::size_t n) noexcept {
    if (!UNI_FRAME_CACHE || n == 0 || n > granule * classes) return nullptr;
#if defined(UNI_TARGET_XEN)
    // The guest's memory goes when it stops: nothing to give back at exit, so
    // no destructor (nor the guard and exit handler a static with one needs).
    static constinit free_list all[classes];
    return &all[(n - 1) / granule];
#else
    static thread_local lists all;
    return &all.by_class[(n - 1) / granule];
#endif
  }
};

}  // namespace uni::detail
