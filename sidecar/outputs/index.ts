/** Build an output from its configuration, importing only the module of its type. */
import type { OutputConfig } from '../config/schema.js';
import type { Output, OutputDeps } from './output.js';

/** Create the output of one configuration entry. */
export async function createOutput(c: OutputConfig, deps: OutputDeps): Promise<Output> {
  switch (c.type) {
    case 'file':
      return (await import('./file.js')).createFileOutput(c);
    case 'env-file':
      return (await import('./env_file.js')).createEnvFileOutput(c);
    case 'env':
      return (await import('./env.js')).createEnvOutput(c.variables);
    case 'aws-container':
      return (await import('./aws_container.js')).createAwsContainerOutput(c, deps);
    case 'gcp-metadata':
      return (await import('./gcp_metadata.js')).createGcpMetadataOutput(c, deps);
  }
}
