package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code diffuse} against a real server on a loopback port serving {@code builtin:sd-tiny} (random weights). */
@Timeout(180)
class DiffuseCommandTest {
    @TempDir
    static Path cache;
    private static TesseraServer server;

    @BeforeAll
    static void start() {
        Path dir = new ModelRef("builtin:sd-tiny").resolve(cache);
        server = TesseraServer.start(GatewayOptions.defaults().withHost("127.0.0.1").withPort(0),
                List.of(new ModelSpec.Diffusion(new DiffusionOptions(dir, cache, 2, "sd-tiny"),
                        DiffuseConfig.DEFAULTS)), Scheduler.builder());
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static String port() {
        return String.valueOf(server.gateway().port());
    }

    @Test
    void writesThePngAndEachPreviewAndShowsProgress(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("fox.png");
        DetectCommandTest.Run r = DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "a red fox",
                "--steps", "3", "--seed", "11", "--sampler", "dpmpp_2m", "--out", out.toString(), "--previews",
                dir.resolve("previews").toString());
        assertEquals(0, r.exit(), r.err());
        BufferedImage img = ImageIO.read(out.toFile());
        assertEquals(64, img.getWidth());
        assertTrue(r.err().contains("2/3") && r.err().contains("seed 11"), r.err());
        try (Stream<Path> files = Files.list(dir.resolve("previews"))) {
            assertEquals(2, files.count(), "previews after steps 1 and 2");
        }
    }

    @Test
    void imageToImageStartsFromTheGivenFile(@TempDir Path dir) throws Exception {
        Path fox = dir.resolve("fox.png");
        assertEquals(0, DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "a red fox", "--steps", "2",
                "--seed", "3", "--out", fox.toString()).exit());
        Path out = dir.resolve("again.png");
        DetectCommandTest.Run r = DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "a red fox",
                "--init-image", fox.toString(), "--strength", "0.5", "--steps", "4", "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(64, ImageIO.read(out.toFile()).getWidth());
        assertTrue(r.err().contains("4/4") && !r.err().contains("1/4"), "starts at step 2 of 4: " + r.err());
    }

    @Test
    void aControlImageConditionsTheBuiltinControlNet(@TempDir Path dir) throws Exception {
        Path edges = dir.resolve("edges.png");
        assertEquals(0, DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "edges", "--steps", "1",
                "--seed", "4", "--out", edges.toString()).exit());
        Path plain = dir.resolve("plain.png");
        Path out = dir.resolve("controlled.png");
        assertEquals(0, DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "a red fox", "--steps", "2",
                "--seed", "5", "--out", plain.toString()).exit());
        DetectCommandTest.Run r = DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "a red fox",
                "--steps", "2", "--seed", "5", "--control-image", edges.toString(), "--control-scale", "0.9",
                "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(64, ImageIO.read(out.toFile()).getWidth());
        assertTrue(!java.util.Arrays.equals(Files.readAllBytes(plain), Files.readAllBytes(out)),
                "the control image changes the image");
        DetectCommandTest.Run bad = DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "x",
                "--control-image", edges.toString(), "--control-scale", "-1", "--out", dir.resolve("x.png").toString());
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("INVALID_ARGUMENT: control_scale"), bad.err());
    }

    @Test
    void aBadFieldIsOneErrorLineNamingIt(@TempDir Path dir) {
        DetectCommandTest.Run r = DetectCommandTest.run("diffuse", "--port", port(), "--prompt", "x", "--width",
                "100", "--out", dir.resolve("x.png").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("INVALID_ARGUMENT: width"), r.err());
        assertTrue(!Files.exists(dir.resolve("x.png")));
    }
}
