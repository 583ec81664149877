#ifndef BORDERLINE_CHDF5_SHIM_H
#define BORDERLINE_CHDF5_SHIM_H
// libhdf5's type and property-list identifiers and its H5F_ACC_* flags are macros that
// expand to global variables behind H5open(); Swift cannot import them, so they are
// re-exported here as inline functions.
#include <hdf5.h>

static inline hid_t bl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t bl_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t bl_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t bl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t bl_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t bl_h5t_native_hbool(void) { return H5T_NATIVE_HBOOL; }
static inline hid_t bl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t bl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t bl_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t bl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t bl_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t bl_h5s_all(void) { return H5S_ALL; }
static inline unsigned bl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned bl_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned bl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned bl_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline size_t bl_h5t_variable(void) { return H5T_VARIABLE; }
/// Silences libhdf5's own error stack printing; Borderline reports errors itself.
static inline void bl_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
