#ifndef BORDERLINE_CDYNAMICLOADER_H
#define BORDERLINE_CDYNAMICLOADER_H

/// The ELF type of the symbol at `address` in a loaded library: 1 for a function (STT_FUNC or
/// STT_GNU_IFUNC), 0 for anything else (data, TLS, …), -1 when it cannot be told (no ELF
/// symbol table entry, or not Linux). Uses glibc's dladdr1(RTLD_DL_SYMENT).
int borderline_symbol_is_function(const void *address);

#endif
