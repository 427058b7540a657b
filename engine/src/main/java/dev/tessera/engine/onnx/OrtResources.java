package dev.tessera.engine.onnx;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import org.slf4j.Logger;

/** Small pieces every ONNX Runtime executor needs: direct input buffers, and closing its sessions. */
public final class OrtResources {
    private OrtResources() {
    }

    /** A direct, native-order buffer of {@code n} floats (what ORT tensors wrap without a copy). */
    public static FloatBuffer directFloats(long n) {
        return ByteBuffer.allocateDirect(Math.toIntExact(n * Float.BYTES)).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /** Closes every session, logging (not throwing) a failure so the rest still close; empties the list. */
    public static void closeAll(List<OrtSession> sessions, Logger logger) {
        for (OrtSession s : sessions) {
            try {
                s.close();
            } catch (OrtException e) {
                logger.warn("closing a session failed: {}", e.getMessage());
            }
        }
        sessions.clear();
    }
}
