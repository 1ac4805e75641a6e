/**
 * The embedded server's environment variables, read by the config module, turned into options by
 * scripts/embedded-env.ts and given to its Supervisor as typed options: a bad value stops the start
 * with the variable named.
 */
import { embeddedServerOptions } from '../../scripts/embedded-env';
import { settingsArgs } from '../../scripts/server';

describe('embedded server settings from the environment', () => {
  it('defaults to the documented sizes and the couchstage agent account', () => {
    const o = embeddedServerOptions({});
    expect(o.settings).toEqual({ cacheMb: 256, leveldbCacheMb: 32, trace: null });
    expect(o.nodeArgs).toEqual([]);
    expect(o.agentName).toBe('couchstage-agent');
    expect(settingsArgs(o.settings)).toEqual(['--cache-mb', '256', '--leveldb-cache-mb', '32']);
  });

  it('passes numbers, the trace and node flags on to the child process', () => {
    const o = embeddedServerOptions({
      COUCHSTAGE_EMBEDDED_CACHE_MB: '0',
      COUCHSTAGE_LEVELDB_CACHE_MB: '64',
      COUCHSTAGE_EMBEDDED_TRACE: '/tmp/t',
      COUCHSTAGE_SERVER_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ',
    });
    expect(settingsArgs(o.settings)).toEqual(['--cache-mb', '0', '--leveldb-cache-mb', '64', '--trace', '/tmp/t']);
    expect(o.nodeArgs).toEqual(['--cpu-prof', '--cpu-prof-dir=/tmp/p']);
  });

  it('refuses a value that is not a number of megabytes, naming the variable and the value', () => {
    expect(() => embeddedServerOptions({ COUCHSTAGE_EMBEDDED_CACHE_MB: 'abc' })).toThrow(
      /COUCHSTAGE_EMBEDDED_CACHE_MB: .*got "abc"/,
    );
    expect(() => embeddedServerOptions({ COUCHSTAGE_LEVELDB_CACHE_MB: '-1' })).toThrow(
      /COUCHSTAGE_LEVELDB_CACHE_MB: .*got "-1"/,
    );
  });
});
