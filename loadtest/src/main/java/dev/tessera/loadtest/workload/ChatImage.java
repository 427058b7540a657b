package dev.tessera.loadtest.workload;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Locale;

/**
 * An image in a chat message, encoded once for every wire: its bytes (PNG or JPEG) for gRPC, its base64 for an
 * OpenAI {@code data:} URL, and its media type ({@code image/png}, {@code image/jpeg}). Requests share it.
 */
public record ChatImage(ByteString data, String base64, String mediaType) {
    public ChatImage {
        if (!mediaType.equals("image/png") && !mediaType.equals("image/jpeg")) {
            throw new IllegalArgumentException("an image is image/png or image/jpeg, got " + mediaType);
        }
    }

    /** An image of encoded {@code bytes}. */
    public static ChatImage of(byte[] bytes, String mediaType) {
        return new ChatImage(ByteString.copyFrom(bytes), Base64.getEncoder().encodeToString(bytes), mediaType);
    }

    /** Reads a {@code .png}, {@code .jpg} or {@code .jpeg} file. */
    public static ChatImage read(Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String type = name.endsWith(".png") ? "image/png"
                : name.endsWith(".jpg") || name.endsWith(".jpeg") ? "image/jpeg" : "";
        if (type.isEmpty()) throw new IllegalArgumentException(file + ": an image file ends in .png, .jpg or .jpeg");
        return of(Files.readAllBytes(file), type);
    }
}
