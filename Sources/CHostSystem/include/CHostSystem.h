#ifndef BORDERLINE_CHOSTSYSTEM_H
#define BORDERLINE_CHOSTSYSTEM_H

/// The ELF type of the symbol at `address` in a loaded library: 1 for a function (STT_FUNC or
/// STT_GNU_IFUNC), 0 for anything else (data, TLS, …), -1 when it cannot be told (no ELF
/// symbol table entry, or not Linux). Uses glibc's dladdr1(RTLD_DL_SYMENT).
int borderline_symbol_is_function(const void *address);

/// renameat2(from, to, RENAME_EXCHANGE): swaps two existing paths atomically. 0 on success,
/// else -1 with errno (EINVAL or ENOSYS where the file system or kernel cannot).
int borderline_rename_exchange(const char *from, const char *to);

/// renameat2(from, to, RENAME_NOREPLACE): renames unless `to` exists (then -1, errno EEXIST).
int borderline_rename_noreplace(const char *from, const char *to);

/// Keeps freed memory in the process instead of returning it to the kernel after every large
/// free (glibc: M_TRIM_THRESHOLD 1 GiB, M_MMAP_THRESHOLD 32 MiB). Training loops free and
/// re-allocate the same few hundred-kilobyte tensors every step; with glibc's defaults each round
/// trip unmapped and re-faulted (zeroed) the pages. No effect elsewhere.
void borderline_keep_freed_memory(void);

#endif
