#define _GNU_SOURCE
#include "CHostSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#if defined(__linux__)
#include <dlfcn.h>
#include <elf.h>
#include <link.h>

int borderline_symbol_is_function(const void *address) {
    Dl_info info;
    const ElfW(Sym) *symbol = 0;
    if (dladdr1(address, &info, (void **)&symbol, RTLD_DL_SYMENT) == 0 || symbol == 0) return -1;
    int type = ELF64_ST_TYPE(symbol->st_info);
    return (type == STT_FUNC || type == STT_GNU_IFUNC) ? 1 : 0;
}

int borderline_rename_exchange(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE);
}

int borderline_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}
#else
int borderline_symbol_is_function(const void *address) { (void)address; return -1; }
int borderline_rename_exchange(const char *from, const char *to) { (void)from; (void)to; errno = ENOSYS; return -1; }
int borderline_rename_noreplace(const char *from, const char *to) { (void)from; (void)to; errno = ENOSYS; return -1; }
#endif

#if defined(__GLIBC__)
#include <malloc.h>
void borderline_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
#else
void borderline_keep_freed_memory(void) {}
#endif
