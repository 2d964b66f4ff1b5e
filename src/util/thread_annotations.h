// Clang thread-safety analysis macros (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
// Under clang they expand to the matching __attribute__((...)); under any other compiler
// (GCC is the default here) to nothing. Checked by the clang build with -DUMD_THREAD_SAFETY=ON
// (-Wthread-safety -Werror=thread-safety).
#pragma once

#if defined(__clang__)
#define UMD_TSA(x) __attribute__((x))
#else
#define UMD_TSA(x)
#endif

#define CAPABILITY(x) UMD_TSA(capability(x))
#define SCOPED_CAPABILITY UMD_TSA(scoped_lockable)
#define GUARDED_BY(x) UMD_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) UMD_TSA(pt_guarded_by(x))
#define REQUIRES(...) UMD_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) UMD_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) UMD_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) UMD_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) UMD_TSA(try_acquire_capability(__VA_ARGS__))
#define RETURN_CAPABILITY(x) UMD_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS UMD_TSA(no_thread_safety_analysis)
