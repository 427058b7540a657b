package dev.tessera.engine.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The on-disk cache of converted graphs: {@code cacheDir/graphs/<key>/}, written once under a temporary name and
 * renamed into place, so a directory that is there is always complete, and two processes converting the same
 * checkpoint at once both end with the same result. Every converter (text segments, DETR) keys it by a hash of what
 * it converts and of its own version.
 */
public final class GraphCache {
    /** Writes a converted model's files into a fresh directory. */
    @FunctionalInterface
    public interface Writer {
        void write(Path dir) throws IOException;
    }

    /**
     * A converted model's directory.
     *
     * @param dir    where its files are
     * @param reused true when it was there already (converted by an earlier run or concurrently)
     */
    public record Entry(Path dir, boolean reused) {
    }

    private GraphCache() {
    }

    /**
     * Returns {@code cacheDir/graphs/key}, writing it with {@code writer} first if it is not there.
     *
     * @throws UncheckedIOException when the cache cannot be written; nothing partial is left behind
     */
    public static Entry getOrWrite(Path cacheDir, String key, Writer writer) {
        Path graphs = cacheDir.resolve("graphs");
        Path dir = graphs.resolve(key);
        if (Files.isDirectory(dir)) return new Entry(dir, true);
        Path tmp;
        try {
            Files.createDirectories(graphs);
            tmp = Files.createTempDirectory(graphs, key + ".tmp-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + graphs, e);
        }
        try {
            writer.write(tmp);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (!Files.isDirectory(dir)) throw e;
                deleteTree(tmp); // converted concurrently by another process: the same result
                return new Entry(dir, true);
            }
        } catch (IOException e) {
            deleteTree(tmp);
            throw new UncheckedIOException("cannot write converted graphs to " + dir, e);
        } catch (RuntimeException | Error e) {
            deleteTree(tmp);
            throw e;
        }
        return new Entry(dir, false);
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
