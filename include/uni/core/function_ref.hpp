// uni/core/function_ref.hpp: a non-owning, non-allocating reference to a callable
// (two pointers). Devices and layers call upwards through these, so no layer
// needs std::function (which may allocate and throw).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace uni {

template <class Signature>
class function_ref;

template <class R, class... Args>
class function_ref<R(Args...)> {
 public:
  function_ref() noexcept = default;

  // Binds to a callable that must outlive every call through this reference.
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, function_ref> && std::is_invocable_r_v<R, F&, Args...>)
  function_ref(F& f) noexcept  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, Args... args) -> R { return (*static_cast<F*>(o))(std::forward<Args>(args)...); }) {}

  // Binds to a plain function.
  function_ref(R (*fn)(Args...)) noexcept  // NOLINT
      : obj_(reinterpret_cast<void*>(fn)),
        call_([](void* o, Args... args) -> R { return reinterpret_cast<R (*)(Args...)>(o)(std::forward<Args>(args)...); }) {}

  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }
  explicit operator bool() const noexcept { return call_ != nullptr; }

 private:
  void* obj_ = nullptr;
  R (*call_)(void*, Args...) = nullptr;
};

}  // namespace uni
