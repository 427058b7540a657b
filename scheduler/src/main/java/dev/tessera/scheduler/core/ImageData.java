package dev.tessera.scheduler.core;

import java.util.Objects;

/**
 * An image as a client sent it, not yet decoded or checked.
 *
 * @param data   the encoded bytes (PNG, JPEG) or raw interleaved RGB8
 * @param format how {@code data} is encoded
 * @param width  pixels (required for RGB8; informative otherwise); unsigned wire value
 * @param height pixels (required for RGB8; informative otherwise); unsigned wire value
 */
public record ImageData(byte[] data, Format format, long width, long height) {
    /** The encodings a client may send. */
    public enum Format { UNSPECIFIED, PNG, JPEG, RGB8 }

    public ImageData {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(format, "format");
    }
}
