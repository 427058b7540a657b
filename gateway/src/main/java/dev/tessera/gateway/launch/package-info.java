/**
 * Starting the server from a command line: {@link dev.tessera.gateway.launch.ServeCommand} (every option, a
 * properties file under the flags, several models), {@link dev.tessera.gateway.launch.ServerMain} (the server
 * image's entry point, checkpoint directories only) and {@link dev.tessera.gateway.launch.ModelResolver} (how a
 * {@code --model} value becomes a directory; the CLI adds the built-ins).
 */
@NullMarked
package dev.tessera.gateway.launch;

import org.jspecify.annotations.NullMarked;
