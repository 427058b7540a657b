package dev.tessera.engine.diffusion.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The external-data file of one converted component: checkpoint tensors converted to fp32 and computed arrays,
 * little-endian, each from a {@value #ALIGN}-byte boundary so that ONNX Runtime may map it.
 *
 * <p>Owns the channel while writing: {@link #close()} it.
 */
public final class WeightFile implements AutoCloseable {
    static final int ALIGN = 4096;

    private final Path file;
    private final FileChannel out;
    private final Checkpoint checkpoint;

    public WeightFile(Path file, Checkpoint checkpoint) {
        this.file = file;
        this.checkpoint = checkpoint;
        try {
            this.out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
    }

    /** The file's name, as the graphs reference it. */
    public String name() {
        return file.getFileName().toString();
    }

    /** Writes {@code t} converted to fp32 from the next aligned offset; returns that offset. */
    public long append(TensorInfo t) {
        long at = align();
        long n = checkpoint.writeFp32(t, out);
        if (n != t.elements() * Float.BYTES) {
            throw new CheckpointException(t.file(), t.name(), "short conversion: " + n + " bytes");
        }
        return at;
    }

    /** Writes {@code data} from the next aligned offset; returns that offset. */
    public long append(float[] data) {
        long at = align();
        ByteBuffer b = ByteBuffer.allocate(data.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(data);
        try {
            while (b.hasRemaining()) out.write(b);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return at;
    }

    private long align() {
        try {
            long pos = out.position();
            long aligned = (pos + ALIGN - 1) / ALIGN * ALIGN;
            if (aligned > pos) out.write(ByteBuffer.allocate((int) (aligned - pos)));
            return aligned;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    @Override
    public void close() {
        try {
            out.force(false);
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file, e);
        }
    }
}
