package dev.tessera.engine.image;

/** How the bytes of an image are encoded. */
public enum ImageFormat {
    /** Not said: the format is recognised from the bytes' signature (PNG or JPEG). */
    UNSPECIFIED,
    PNG,
    JPEG,
    /** Raw 8-bit RGB, row-major, 3 bytes per pixel, no header: width and height must be given. */
    RGB8
}
