"""A matplotlib backend module whose canvas writes PNG files faster, with the same pixels.

Used as ``fig.savefig(..., format="png", backend="module://ale_app.present.png_canvas")``
(matplotlib's way to render one file with another canvas class, tight bounding box
included). Agg draws the figure as usual; the PNG is written without its alpha channel when
every pixel is opaque (figures are saved on a white face, so they are) and with zlib level 3
instead of 6. At 300 dpi that halves the encoding, most of the time a saved glass brain took
after its drawing, and the files are smaller (RGB), while the decoded pixels are those of
matplotlib's own PNG. A figure with any transparent pixel keeps its alpha channel.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg

#: zlib level of the PNG files (1 fastest, 9 smallest; Pillow's default is 6).
COMPRESS_LEVEL = 3


class FigureCanvas(FigureCanvasAgg):
    """Agg, with :meth:`print_png` writing opaque figures as RGB."""

    def print_png(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_ignored):
        """Draw with Agg and write the PNG (matplotlib passes ``orientation`` and the like, unused)."""
        import numpy as np
        from PIL import Image, PngImagePlugin

        FigureCanvasAgg.draw(self)
        rgba = np.asarray(self.buffer_rgba())
        image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]) if (rgba[..., 3] == 255).all() else rgba)
        info = PngImagePlugin.PngInfo()
        for key, value in (metadata or {}).items():
            if value is not None:
                info.add_text(key, value)
        dpi = self.figure.dpi
        image.save(filename_or_obj, format="png", pnginfo=info, dpi=(dpi, dpi), compress_level=COMPRESS_LEVEL,
                   **(pil_kwargs or {}))
