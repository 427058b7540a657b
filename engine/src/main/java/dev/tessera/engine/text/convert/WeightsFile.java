package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The external-data file shared by all segment graphs of one converted model: fp32 little-endian weights (and,
 * for a quantized model, packed integer codes and their scales), each
 * group starting at a {@value #ALIGN}-byte boundary so that ONNX Runtime may memory-map it.
 *
 * <p>Owns the channel while writing: {@link #close()} it.
 */
public final class WeightsFile implements AutoCloseable {
    public static final String NAME = "weights.bin";
    static final int ALIGN = 64 * 1024;

    private final FileChannel out;
    private final Checkpoint checkpoint;

    public WeightsFile(Path file, Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
        try {
            this.out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
    }

    /** Writes {@code tensors} back to back, converted to fp32, from the next aligned offset; returns that offset. */
    public long append(TensorInfo... tensors) {
        try {
            long aligned = align();
            for (TensorInfo t : tensors) {
                long n = checkpoint.writeFp32(t, out);
                if (n != t.elements() * Float.BYTES) {
                    throw new CheckpointException(t.file(), t.name(), "short conversion: " + n + " bytes");
                }
            }
            return aligned;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + NAME, e);
        }
    }

    /** Writes {@code bytes} from the next aligned offset; returns that offset. */
    public long appendBytes(byte[] bytes) {
        try {
            long aligned = align();
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) out.write(b);
            return aligned;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + NAME, e);
        }
    }

    /** Writes {@code values} as little-endian fp32 from the next aligned offset; returns that offset. */
    public long appendFloats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return appendBytes(b.array());
    }

    private long align() throws IOException {
        long pos = out.position();
        long aligned = (pos + ALIGN - 1) / ALIGN * ALIGN;
        if (aligned > pos) out.write(ByteBuffer.allocate((int) (aligned - pos)));
        return aligned;
    }

    @Override
    public void close() {
        try {
            out.force(false);
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + NAME, e);
        }
    }
}
