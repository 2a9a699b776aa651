package api

func (s *Server) actionRoutes() []Route {
	return nil
}
