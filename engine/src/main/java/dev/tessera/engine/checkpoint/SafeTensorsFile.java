package dev.tessera.engine.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file: an 8-byte little-endian header length, a JSON header describing each tensor
 * ({@code dtype}, {@code shape}, {@code data_offsets} relative to the end of the header), then the data.
 *
 * <p>The header is validated completely when the file is opened: its length is sane, it parses, every dtype is
 * known, every shape is non-negative, and every tensor's bytes lie inside the file and match shape × dtype size.
 * Tensor data is memory-mapped on demand and converted to fp32 (from fp32, fp16 or bf16).
 *
 * <p>Owns an open file channel: {@link #close()} it.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Larger headers are treated as corrupt (the reference implementation limits them to 100 MB). */
    static final long MAX_HEADER_BYTES = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Source bytes converted per chunk when streaming a tensor out. */
    private static final int CHUNK_BYTES = 8 << 20;

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final byte[] header;
    private final Map<String, TensorInfo> tensors;

    private SafeTensorsFile(Path path, FileChannel channel, long fileSize, byte[] header,
                            Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.header = header;
        this.tensors = tensors;
    }

    /** Opens and validates {@code path}. */
    public static SafeTensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path, null, "file not found");
        } catch (IOException e) {
            throw new CheckpointException(path, null, "cannot open: " + e.getMessage(), e);
        }
        try {
            long size = ch.size();
            if (size < 8) throw new CheckpointException(path, null, "corrupt safetensors header: file has "
                    + size + " bytes, fewer than the 8-byte header length");
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.flip().getLong();
            if (n <= 0 || n > MAX_HEADER_BYTES || 8 + n > size) {
                throw new CheckpointException(path, null, "corrupt safetensors header: header length " + n
                        + " is out of range for a file of " + size + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            byte[] header = hb.array();
            Map<String, TensorInfo> tensors = parseHeader(path, header, 8 + n, size);
            return new SafeTensorsFile(path, ch, size, header, tensors);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new CheckpointException(path, null, "cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path path, byte[] header, long dataStart, long fileSize) {
        JsonNode root;
        try {
            root = JSON.readTree(new String(header, StandardCharsets.UTF_8).trim());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(path, null, "corrupt safetensors header: invalid JSON ("
                    + e.getOriginalMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(path, null, "corrupt safetensors header: not a JSON object");
        }
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            JsonNode dtypeNode = t.get("dtype");
            JsonNode shapeNode = t.get("shape");
            JsonNode offsets = t.get("data_offsets");
            if (dtypeNode == null || !dtypeNode.isTextual() || shapeNode == null || !shapeNode.isArray()
                    || offsets == null || !offsets.isArray() || offsets.size() != 2) {
                throw new CheckpointException(path, name,
                        "corrupt safetensors header: entry needs dtype, shape and two data_offsets");
            }
            DType dtype;
            try {
                dtype = DType.valueOf(dtypeNode.asText());
            } catch (IllegalArgumentException ex) {
                throw new CheckpointException(path, name, "unsupported dtype " + dtypeNode.asText());
            }
            long[] shape = new long[shapeNode.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                    throw new CheckpointException(path, name, "corrupt safetensors header: bad shape " + shapeNode);
                }
                shape[i] = d.asLong();
                try {
                    elements = Math.multiplyExact(elements, shape[i]);
                } catch (ArithmeticException ex) {
                    throw new CheckpointException(path, name, "corrupt safetensors header: shape overflows");
                }
            }
            long b = offsets.get(0).asLong(-1);
            long end = offsets.get(1).asLong(-1);
            if (!offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber() || b < 0 || end < b
                    || dataStart + end > fileSize) {
                throw new CheckpointException(path, name, "corrupt safetensors header: data_offsets " + offsets
                        + " lie outside the " + (fileSize - dataStart) + " data bytes of the file");
            }
            if (end - b != elements * dtype.bytes) {
                throw new CheckpointException(path, name, "corrupt safetensors header: data_offsets " + offsets
                        + " span " + (end - b) + " bytes but shape " + shapeNode + " of " + dtype + " needs "
                        + elements * dtype.bytes);
            }
            out.put(name, new TensorInfo(path, name, dtype, shape, dataStart + b, dataStart + end));
        }
        return Collections.unmodifiableMap(out);
    }

    public Path path() {
        return path;
    }

    public long fileSize() {
        return fileSize;
    }

    /** The raw JSON header bytes (for fingerprints). */
    public byte[] headerBytes() {
        return header.clone();
    }

    /** Tensors by name, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** Reads a whole tensor as fp32 (for small tensors: norms, biases, tests). */
    public float[] readFloats(TensorInfo t) {
        checkReadable(t);
        float[] out = new float[Math.toIntExact(t.elements())];
        ByteBuffer dst = ByteBuffer.allocate(out.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        forEachChunk(t, src -> convert(t.dtype(), src, dst));
        dst.flip().asFloatBuffer().get(out);
        return out;
    }

    /** Reads a whole {@link DType#I32} tensor (packed integer codes of a pre-quantized checkpoint). */
    public int[] readInts(TensorInfo t) {
        if (!t.file().equals(path)) throw new IllegalArgumentException(t.name() + " is not in " + path);
        if (t.dtype() != DType.I32) {
            throw new CheckpointException(path, t.name(), "dtype " + t.dtype() + " is not I32");
        }
        int[] out = new int[Math.toIntExact(t.elements())];
        int[] at = {0};
        forEachChunk(t, src -> {
            IntBuffer ints = src.asIntBuffer();
            int n = ints.remaining();
            ints.get(out, at[0], n);
            at[0] += n;
        });
        return out;
    }

    /** Streams a tensor as little-endian fp32 bytes to {@code out}; returns the bytes written. */
    public long writeFp32(TensorInfo t, WritableByteChannel out) {
        checkReadable(t);
        ByteBuffer dst = ByteBuffer.allocate(CHUNK_BYTES * 2).order(ByteOrder.LITTLE_ENDIAN);
        long[] written = {0};
        forEachChunk(t, src -> {
            dst.clear();
            convert(t.dtype(), src, dst);
            dst.flip();
            try {
                while (dst.hasRemaining()) written[0] += out.write(dst);
            } catch (IOException e) {
                throw new CheckpointException(path, t.name(), "cannot write converted tensor: " + e.getMessage(), e);
            }
        });
        return written[0];
    }

    private void checkReadable(TensorInfo t) {
        if (!t.file().equals(path)) throw new IllegalArgumentException(t.name() + " is not in " + path);
        if (!t.dtype().isFloatWeight()) {
            throw new CheckpointException(path, t.name(), "dtype " + t.dtype() + " is not a supported weight type"
                    + " (F32, F16, BF16)");
        }
    }

    private interface ChunkSink {
        void accept(ByteBuffer src);
    }

    private void forEachChunk(TensorInfo t, ChunkSink sink) {
        long pos = t.begin();
        int unit = t.dtype().bytes;
        while (pos < t.end()) {
            long len = Math.min(CHUNK_BYTES - CHUNK_BYTES % unit, t.end() - pos);
            MappedByteBuffer m;
            try {
                m = channel.map(FileChannel.MapMode.READ_ONLY, pos, len);
            } catch (IOException e) {
                throw new CheckpointException(path, t.name(), "cannot map tensor data: " + e.getMessage(), e);
            }
            m.order(ByteOrder.LITTLE_ENDIAN);
            sink.accept(m);
            pos += len;
        }
    }

    private static void convert(DType type, ByteBuffer src, ByteBuffer dst) {
        switch (type) {
            case F32 -> dst.put(src);
            case F16 -> {
                while (src.remaining() >= 2) dst.putFloat(halfToFloat(src.getShort()));
            }
            case BF16 -> {
                while (src.remaining() >= 2) dst.putFloat(Float.intBitsToFloat((src.getShort() & 0xffff) << 16));
            }
            default -> throw new IllegalStateException(type.name());
        }
    }

    /** IEEE 754 binary16 to binary32, exact (every half value is a float), including subnormals, inf and NaN. */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) throw new IOException("unexpected end of file");
            pos += n;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
