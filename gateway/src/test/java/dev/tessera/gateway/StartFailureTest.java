package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.text.TextConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A start that fails halfway frees what it opened: Vert.x and its threads, the port, the engines loaded so far
 * (their ONNX Runtime sessions and attention threads), the serving core's threads.
 */
@Timeout(120)
class StartFailureTest {
    /** Threads that belong to a server: Vert.x's, the engines', the serving core's. */
    private static Set<String> serverThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("vert.x-") || n.startsWith("tessera-"))
                .collect(Collectors.toSet());
    }

    private static void awaitNoServerThreads() throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!serverThreads().isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "threads left: " + serverThreads());
            Thread.sleep(10);
        }
    }

    @Test
    void aPortInUseClosesVertx() throws Exception {
        awaitNoServerThreads();
        try (ServerSocket taken = new ServerSocket(0)) {
            GatewayOptions options = GatewayTestSupport.loopback().withPort(taken.getLocalPort());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> GatewayServer.start(options));
            assertTrue(e.getMessage().contains("cannot listen"), e.getMessage());
        }
        awaitNoServerThreads();
    }

    @Test
    void aModelFailingToLoadClosesTheModelsLoadedBeforeItTheGatewayAndThePort(@TempDir Path cache)
            throws Exception {
        awaitNoServerThreads();
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path tiny = BuiltinModels.materialize("tiny", cache);
        Path broken = cache.resolve("broken-detr");
        copy(BuiltinModels.materialize("detr-tiny", cache), broken);
        Files.writeString(broken.resolve("model.safetensors"), "not a safetensors file");
        List<ModelSpec> models = List.of(
                new ModelSpec.Text(TextEngineOptions.defaults(tiny).withCacheDir(cache).withThreads(2)
                        .withKvMemoryBytes(16L << 20), TextConfig.defaults()),
                new ModelSpec.Detector(DetrOptions.defaults(broken).withCacheDir(cache).withThreads(2),
                        DetectConfig.defaults()));
        GatewayOptions options = GatewayTestSupport.loopback().withPort(port);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> TesseraServer.start(options, models, Scheduler.builder()));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        awaitNoServerThreads();
        try (ServerSocket again = new ServerSocket(port)) {
            assertEquals(port, again.getLocalPort(), "the port was released");
        }
        // the same models, repaired, start on the same port
        copy(BuiltinModels.materialize("detr-tiny", cache), broken);
        try (TesseraServer server = TesseraServer.start(options, models, Scheduler.builder())) {
            assertEquals(2, server.scheduler().models().size());
        }
        awaitNoServerThreads();
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
