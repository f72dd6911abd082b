/** Build the subject token source of the configuration, importing only the module of its kind. */
import type { FileTokenConfig } from './file.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

export type { SourceContext, SubjectProof, SubjectTokenSource } from './source.js';

/** Where the subject token comes from: a file, a variable, or the machine's metadata service. */
export type SubjectTokenConfig = FileTokenConfig | SubjectTokenSourceConfig;

/** Create the configured source: a token file or variable, or a cloud metadata service. */
export async function createSubjectTokenSource(c: SubjectTokenConfig, ctx: SourceContext): Promise<SubjectTokenSource> {
  if (!('source' in c)) return (await import('./file.js')).createFileTokenSource(c);
  switch (c.source) {
    case 'aws-iid':
      return (await import('./aws_iid.js')).createAwsIidSource(c, ctx);
    case 'aws-iam':
      return (await import('./aws_iam.js')).createAwsIamSource(c, ctx);
    case 'gcp-instance':
      return (await import('./gcp_instance.js')).createGcpInstanceSource(c, ctx);
    case 'azure-msi':
      return (await import('./azure_msi.js')).createAzureMsiSource(c, ctx);
    case 'azure-imds':
      return (await import('./azure_imds.js')).createAzureImdsSource(c, ctx);
  }
}
