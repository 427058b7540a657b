package dev.tessera.engine.detect.convert;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The external-data file of a converted DETR: computed fp32 arrays (BatchNorm-folded convolutions, fused
 * projections), little-endian, each starting at a {@value #ALIGN}-byte boundary so that ONNX Runtime may map it.
 *
 * <p>Owns the channel while writing: {@link #close()} it.
 */
final class FloatWeights implements AutoCloseable {
    static final String NAME = "weights.bin";
    static final int ALIGN = 4096;

    private final FileChannel out;
    private final ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

    FloatWeights(Path file) {
        try {
            this.out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
    }

    /** Writes {@code data} from the next aligned offset; returns that offset. */
    long append(float[] data) {
        try {
            long pos = out.position();
            long aligned = (pos + ALIGN - 1) / ALIGN * ALIGN;
            if (aligned > pos) out.write(ByteBuffer.allocate((int) (aligned - pos)));
            int at = 0;
            while (at < data.length) {
                chunk.clear();
                int n = Math.min(chunk.capacity() / Float.BYTES, data.length - at);
                chunk.asFloatBuffer().put(data, at, n);
                chunk.limit(n * Float.BYTES);
                while (chunk.hasRemaining()) out.write(chunk);
                at += n;
            }
            return aligned;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + NAME, e);
        }
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
