// oidc-provider ships no type declarations; the tests use a small part of it.
declare module 'oidc-provider' {
  const Provider: new (
    issuer: string,
    configuration: never,
  ) => {
    listen(port: number, host: string, callback: () => void): unknown;
  };
  export default Provider;
}
