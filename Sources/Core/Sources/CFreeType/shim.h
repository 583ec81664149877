// FreeType renders the text of the charts; fontconfig finds a font file (DejaVu Sans by default).
#include <ft2build.h>
#include FT_FREETYPE_H
#include <fontconfig/fontconfig.h>

// FT_LOAD_RENDER and FT_LOAD_TARGET_LIGHT are macros Swift cannot import.
static inline int borderline_ft_load_render(void) { return FT_LOAD_RENDER | FT_LOAD_TARGET_LIGHT; }
