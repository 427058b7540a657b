package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.gateway.launch.ServeCommand;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line: help on every command, and what {@code serve} serves by default. */
class MainTest {

    @Test
    void helpOnEveryCommandSucceeds() {
        assertEquals(0, Main.execute("--help"));
        assertEquals(0, Main.execute("serve", "--help"));
        assertEquals(0, Main.execute("generate", "--help"));
        assertEquals(0, Main.execute("detect", "--help"));
        assertEquals(0, Main.execute("bench", "--help"));
        assertEquals(0, Main.execute("bench", "generate", "--help"));
        assertEquals(0, Main.execute("bench", "attention", "--help"));
        assertEquals(0, Main.execute("bench", "gateway", "--help"));
        assertEquals(0, Main.execute("bench", "detect", "--help"));
        assertEquals(2, Main.execute("bench", "nope"));
    }

    @Test
    void servesTheBuiltInTextModelAndDetectorByDefault() {
        ServeCommand serve = new ServeCommand(new BuiltinModelResolver());
        new CommandLine(serve).parseArgs();
        assertEquals(List.of("builtin:tiny", "builtin:vlm-tiny", "builtin:detr-tiny", "builtin:sd-tiny"),
                serve.models());
        ServeCommand one = new ServeCommand(new BuiltinModelResolver());
        new CommandLine(one).parseArgs("--model", "builtin:bench");
        assertEquals(List.of("builtin:bench"), one.models());
    }
}
