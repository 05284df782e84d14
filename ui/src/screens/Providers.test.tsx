import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { ProviderSettings, Status } from '../api';
import { StatusContext } from '../components';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Providers, providerBody } = await import('./Providers');

const admin: Status = {
  ...SIGNED_IN,
  server: 'https://records.example.org',
  user: account({ id: 'a1', email: 'ada@example.org', name: 'Ada', type: 'admin' }),
  can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] },
};

const springfield: ProviderSettings = {
  id: 'php1',
  name: 'Springfield Clinic',
  fhir_base_url: 'https://fhir.springfield.example/r4',
  auth_mode: 'smart-backend',
  client_id: 'records-platform',
  token_url: null,
  scope: null,
  key_id: 'k1',
  key_algorithm: 'ES384',
  public_jwks: { keys: [{ kty: 'EC', crv: 'P-384', kid: 'k1' }] },
  version: 1,
};

describe('Providers', () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it('builds the platform’s request body from the form, leaving out what is empty', () => {
    const form = { name: ' Springfield ', fhir_base_url: 'https://fhir.example/r4', mode: 'smart-backend' as const, token: '', client_id: 'c1', scope: '', token_url: '' };
    expect(providerBody(form)).toEqual({
      name: 'Springfield',
      fhir_base_url: 'https://fhir.example/r4',
      auth: { mode: 'smart-backend', client_id: 'c1', scope: null, token_url: null, private_key_pem: null, key_id: null },
    });
    expect(providerBody({ ...form, mode: 'bearer', token: ' t0k3n ' }).auth).toEqual({ mode: 'bearer', token: 't0k3n' });
    expect(providerBody({ ...form, mode: 'none' }).auth).toEqual({ mode: 'none' });
  });

  it('shows the key set to hand over and tests the connection step by step', async () => {
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'provider_settings') return Promise.resolve([springfield]);
      if (cmd === 'test_provider')
        return Promise.resolve([
          { step: 'Discovery', ok: true, detail: 'FHIR 4.0.1; SMART configuration published.' },
          { step: 'Token', ok: false, detail: 'Springfield Clinic refused the platform’s client assertion (invalid_client).' },
        ]);
      return Promise.reject(new Error(cmd));
    });
    render(
      <StatusContext.Provider value={admin}>
        <Providers />
      </StatusContext.Provider>,
    );
    const card = (await screen.findByText('Springfield Clinic', { selector: 'h2' })).closest('article')!;
    expect(card.querySelector('.jwks-url')!.textContent).toBe('https://records.example.org/api/v1/providers/php1/jwks.json');
    expect(JSON.parse(card.querySelector('.jwks')!.textContent!)).toEqual(springfield.public_jwks);
    fireEvent.click(card.querySelector('.test-provider')!);
    await waitFor(() => expect(card.querySelectorAll('.connection-steps li').length).toBe(2));
    const steps = [...card.querySelectorAll('.connection-steps li')].map((li) => [li.getAttribute('data-ok'), li.textContent]);
    expect(steps[1]).toEqual(['false', 'Token: Springfield Clinic refused the platform’s client assertion (invalid_client).']);
    expect(invoke).toHaveBeenCalledWith('test_provider', { id: 'php1' });
  });

  it('creates a provider from the form', async () => {
    let listed: ProviderSettings[] = [];
    invoke.mockImplementation((cmd: string, args: { provider?: { name: string } }) => {
      if (cmd === 'provider_settings') return Promise.resolve(listed);
      if (cmd === 'save_provider') {
        listed = [{ ...springfield, name: args.provider!.name }];
        return Promise.resolve(listed[0]);
      }
      return Promise.reject(new Error(cmd));
    });
    render(
      <StatusContext.Provider value={admin}>
        <Providers />
      </StatusContext.Provider>,
    );
    await screen.findByText('No provider is set up yet.');
    fireEvent.click(screen.getByText('New provider', { selector: 'button' }));
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Shelbyville Health' } });
    fireEvent.input(screen.getByLabelText('FHIR base URL'), { target: { value: 'https://fhir.shelbyville.example/r4' } });
    fireEvent.input(screen.getByLabelText('Client id the PHP registered'), { target: { value: 'records' } });
    fireEvent.submit(screen.getByText('Save').closest('form')!);
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('save_provider', {
        id: null,
        provider: {
          name: 'Shelbyville Health',
          fhir_base_url: 'https://fhir.shelbyville.example/r4',
          auth: { mode: 'smart-backend', client_id: 'records', scope: null, token_url: null, private_key_pem: null, key_id: null },
        },
      }),
    );
    expect((await screen.findByText(/Shelbyville Health is saved/)).id).toBe('provider-saved');
    await screen.findByText('Shelbyville Health', { selector: 'h2' });
  });
});
