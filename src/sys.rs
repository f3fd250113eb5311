//! What the operating system can tell about this process.

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// A `/proc/self/status` field given in kB, e.g. `VmRSS:`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU's model name (Linux `/proc/cpuinfo`), if the OS reports it.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

/// Current resident set size of this process in bytes (Linux `VmRSS`), if the OS reports
/// it.
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Number of file descriptors this process has open (Linux `/proc/self/fd`), if the OS
/// reports it.
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// Makes the allocator give freed memory back to the operating system as it goes, for a
/// long-running server whose bursts should not leave it at the burst's peak; call it
/// before the server starts its threads.
///
/// Three glibc settings (each measured to matter, see the README's "Serving in the open"):
/// at most two arenas, since every thread would otherwise get its own and glibc never
/// shrinks a thread arena's free top outside `free`'s own heuristics, which
/// [`release_free_heap`] cannot reach; a fixed 1 MiB mmap threshold, since glibc raises
/// it to the largest buffer freed so far (up to 32 MiB), after which a session's megabyte
/// buffers live in the arenas instead of being unmapped when freed (fixing it also turns
/// that adjustment off); and a fixed 128 KiB trim threshold (glibc's initial one), since
/// the dynamic adjustment raises it too. Elsewhere a no-op.
pub fn return_freed_memory_eagerly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` takes two integers and no pointer; glibc documents it MT-Safe, and
    // the three parameters accept any positive value, so the calls cannot break the heap.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns the allocator's free memory to the operating system.
///
/// glibc keeps freed chunks resident for reuse, so a server's memory after a burst of
/// sessions would stay near the burst's peak (54 MB against 21 MB idle after 64 clients);
/// `malloc_trim` hands back every page of every arena's free chunks and the main heap's
/// free top (`madvise(MADV_DONTNEED)`, `sbrk`). Elsewhere a no-op.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer and has no precondition; glibc documents it
    // MT-Safe (it takes each arena's lock while it walks that arena), so calling it while
    // other threads allocate is sound. It only releases pages no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}
