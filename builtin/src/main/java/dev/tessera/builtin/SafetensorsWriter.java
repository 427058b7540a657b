package dev.tessera.builtin;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes fp32 tensors in the safetensors format: an 8-byte little-endian header length, a JSON header (padded with
 * spaces to a multiple of 8 bytes) mapping each name to {@code dtype}, {@code shape} and {@code data_offsets}, then the
 * raw little-endian data in header order. Tensor data is streamed from a {@link Source}, never held whole in memory.
 */
public final class SafetensorsWriter {
    private static final int CHUNK_FLOATS = 1 << 16;

    private SafetensorsWriter() {}

    /** Produces a tensor's values in row-major order, a chunk at a time. */
    @FunctionalInterface
    public interface Source {
        /** Fills {@code chunk[0, count)} with the next {@code count} values. */
        void next(float[] chunk, int count);
    }

    /** One tensor to write. */
    public record Tensor(String name, long[] shape, Source source) {
        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(source, "source");
            shape = shape.clone();
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
                }
            }
        }

        long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /**
     * Writes {@code tensors} (F32) to {@code file}, replacing it.
     *
     * @param metadata string pairs stored under {@code __metadata__}
     */
    public static void writeF32(Path file, List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", new LinkedHashMap<>(metadata));
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (Tensor t : tensors) {
            if (!names.add(t.name()) || t.name().equals("__metadata__")) {
                throw new IllegalArgumentException("duplicate or reserved tensor name: " + t.name());
            }
            long bytes = Math.multiplyExact(t.elements(), 4L);
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", "F32");
            entry.put("shape", t.shape());
            entry.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(t.name(), entry);
            offset += bytes;
        }
        byte[] json = new ObjectMapper().writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(out, head);
            float[] chunk = new float[CHUNK_FLOATS];
            ByteBuffer bytes = ByteBuffer.allocateDirect(CHUNK_FLOATS * 4).order(ByteOrder.LITTLE_ENDIAN);
            FloatBuffer floats = bytes.asFloatBuffer();
            for (Tensor t : tensors) {
                long left = t.elements();
                while (left > 0) {
                    int n = (int) Math.min(left, CHUNK_FLOATS);
                    t.source().next(chunk, n);
                    floats.clear();
                    floats.put(chunk, 0, n);
                    bytes.clear().limit(n * 4);
                    writeFully(out, bytes);
                    left -= n;
                }
            }
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }
}
