package dev.tessera.gateway.grpc;

import io.vertx.core.buffer.Buffer;
import java.io.InputStream;

/**
 * A Vert.x {@link Buffer} read as a stream, so that protobuf's {@code CodedInputStream} can walk a message where it
 * lies, without copying it into an array first ({@code Buffer.getBytes()} would copy a 4 MB prompt whole). Skips
 * move the position only. Not thread-safe; the buffer must not change while it is read.
 */
final class BufferInput extends InputStream {
    private final Buffer buffer;
    private int position;

    BufferInput(Buffer buffer) {
        this.buffer = buffer;
    }

    @Override
    public int read() {
        return position < buffer.length() ? buffer.getByte(position++) & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) return 0;
        int n = Math.min(len, buffer.length() - position);
        if (n <= 0) return -1;
        buffer.getBytes(position, position + n, b, off);
        position += n;
        return n;
    }

    @Override
    public long skip(long n) {
        long skipped = Math.max(0, Math.min(n, buffer.length() - position));
        position += (int) skipped;
        return skipped;
    }

    @Override
    public int available() {
        return buffer.length() - position;
    }
}
